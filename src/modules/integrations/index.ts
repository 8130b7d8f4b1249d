// Integrations: a CRM account of an organization, its config (secrets sealed), status and
// connector. Other modules read integrations through IntegrationService.
export { canTransition, type IntegrationStatus } from './integration-status';
export type { IntegrationRepository, IntegrationRow } from './integrations.repository';
export { visible as visibleIntegration } from './integrations.routes';
export type { IntegrationService } from './integrations.service';
