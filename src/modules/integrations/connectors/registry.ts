import type { Logger } from 'winston';
import type { CrmConnector, WebhookAdapter } from './connector';
import { createCrmHttpClient } from './http-client';
import { WEALTHBOX_DEFAULT_URL, WealthboxConnector, wealthboxHeaders, type WealthboxConfig } from './wealthbox/wealthbox.connector';
import { wealthboxTemplate } from './wealthbox/wealthbox.template';
import { wealthboxWebhook } from './wealthbox/wealthbox.webhook';

/** A template that exists at start because its connector does. */
export interface BuiltInTemplate {
  name: string;
  displayName: string;
  category: string;
  icon: string;
  description: string;
  apiVersion: string;
  webhookUrl: string | null;
  configSchema: Record<string, unknown>;
  setupInstructions: string;
}

export interface ConnectorDeps {
  logger: Logger;
  http: { timeoutMs: number; maxRetries: number; retryBaseMs: number; allowPrivateUrls: boolean };
  pageSize: number;
}

type Factory = (config: Record<string, unknown>, deps: ConnectorDeps) => CrmConnector;

interface ConnectorEntry {
  template: BuiltInTemplate;
  create: Factory;
  /** Its inbound webhooks, served at POST /api/webhooks/<provider>, when the CRM sends any. */
  webhook?: WebhookAdapter;
}

/** Every CRM the service can talk to. Adding one: a folder under connectors/ and a line here. */
export const connectors: Record<string, ConnectorEntry> = {
  wealthbox: {
    template: wealthboxTemplate,
    webhook: wealthboxWebhook,
    create: (raw, deps) => {
      const config = raw as unknown as WealthboxConfig;
      const http = createCrmHttpClient({
        provider: 'wealthbox',
        baseURL: config.baseUrl ?? WEALTHBOX_DEFAULT_URL,
        headers: { Accept: 'application/json', ...wealthboxHeaders(config) },
        requestsPerSecond: config.requestsPerSecond ?? 1,
        logger: deps.logger,
        ...deps.http,
      });
      return new WealthboxConnector(http, config, deps.pageSize);
    },
  },
};

export type ConnectorFactory = (provider: string, config: Record<string, unknown>) => CrmConnector | undefined;

export function createConnectorFactory(deps: ConnectorDeps): ConnectorFactory {
  return (provider, config) => connectors[provider]?.create(config, deps);
}
