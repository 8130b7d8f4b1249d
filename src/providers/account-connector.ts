import type { AxiosInstance } from 'axios';
import type { ConnectionInfo, CrmConnector } from './connector';
import { createCrmHttpClient } from './http-client';
import type { ProviderDefinition, ProviderModule } from './provider';
import { perSecond } from './rate-limiter';

/**
 * A provider that is not a CRM (storage, mail, payments, a marketplace): it connects (by
 * OAuth or a pasted token) and tests, and holds no people, so a pull is refused before it
 * starts (no streams). What it is used for (exports, pushes) comes with its own interface.
 */
export interface AccountProvider {
  definition: ProviderDefinition;
  /** The API's address for this config (a region's host), unless the config's baseUrl says. */
  baseUrl(config: Record<string, unknown>): string;
  /** The headers carrying an access token (most: a bearer; Amazon: x-amz-access-token). */
  authHeaders(token: string): Record<string, string>;
  /** One cheap authenticated call naming the account. */
  test(http: AxiosInstance, config: Record<string, unknown>): Promise<ConnectionInfo>;
}

export function accountProvider(p: AccountProvider): ProviderModule {
  const tokenField = p.definition.oauth?.accessTokenField ?? 'accessToken';
  return {
    definition: { pulls: false, ...p.definition },
    createConnector(config, ctx) {
      const token = typeof config[tokenField] === 'string' ? config[tokenField] : '';
      const http = createCrmHttpClient({
        provider: p.definition.name,
        baseURL: typeof config.baseUrl === 'string' && config.baseUrl ? config.baseUrl : p.baseUrl(config),
        headers: { Accept: 'application/json', ...p.authHeaders(token) },
        limiter: ctx.limiter(perSecond(p.definition.rateLimit)),
        logger: ctx.logger,
        reauthorize: async () => {
          const fresh = await ctx.reauthorize();
          return fresh ? p.authHeaders(fresh) : null;
        },
        ...ctx.http,
      });
      return accountConnector(p.definition.name, () => p.test(http, config));
    },
  };
}

function accountConnector(provider: string, test: () => Promise<ConnectionInfo>): CrmConnector {
  return {
    provider,
    streams: [],
    identityProviders: [],
    testConnection: test,
    listPeople: () => Promise.reject(new Error(`${provider} holds no people to pull`)),
    listDeletedSince: async () => [],
    stillExisting: async (people) => people,
  };
}

/** A string field of a JSON answer, or null. */
export function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

/** The JSON object at `path` in an answer, or an empty one. */
export function field(data: unknown, ...path: string[]): Record<string, unknown> {
  let at: unknown = data;
  for (const k of path) at = at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined;
  return at && typeof at === 'object' ? (at as Record<string, unknown>) : {};
}

/** The config every account provider shares: the token, and an API address override. */
export function tokenConfigSchema(
  opts: { tokenTitle: string; tokenDescription: string; baseUrl: string },
  extra: Record<string, unknown> = {},
  required: string[] = [],
): Record<string, unknown> {
  return {
    type: 'object',
    required: ['accessToken', ...required],
    additionalProperties: false,
    properties: {
      accessToken: {
        type: 'string',
        title: opts.tokenTitle,
        description: opts.tokenDescription,
        format: 'password',
        writeOnly: true,
        minLength: 8,
      },
      ...extra,
      baseUrl: { type: 'string', title: 'API base URL', format: 'uri', default: opts.baseUrl },
    },
  };
}
