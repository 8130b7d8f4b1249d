// OAuth 2 connections and the token manager: providers' OAuth facts come from their folders.
export { createOAuthRepository, type OAuthRepository } from './oauth.repository';
export { oauthCallbackOperations, oauthCallbackRouter, oauthOperations, oauthRouter } from './oauth.routes';
export { OAuthService } from './oauth.service';
