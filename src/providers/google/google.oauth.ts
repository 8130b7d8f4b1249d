import type { OAuthFacts } from '../provider';

/**
 * Google's OAuth 2 web-server flow, shared by Drive and Gmail (each asks its own scopes).
 * access_type=offline is what gets a refresh token; prompt=consent gets one again when the
 * person connected before (Google only sends it on the first consent otherwise).
 */
export function googleOAuth(scopes: string[], legacyEnv: OAuthFacts['legacyEnv'], pathAliases: string[] = []): OAuthFacts {
  return {
    authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    scopes,
    pkce: true,
    authorizeParams: { access_type: 'offline', prompt: 'consent', include_granted_scopes: 'true' },
    accessTokenField: 'accessToken',
    legacyEnv,
    pathAliases,
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
