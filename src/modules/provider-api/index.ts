// Seed 003's provider-named API (/api/integrations/connect, /:provider, /:provider/sync) on
// top of the id-based services.
export { providerApiOperations, providerApiRouter, type ProviderApiDeps } from './provider-api.routes';
