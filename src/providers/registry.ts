import type { Logger } from 'winston';
import type { CrmConnector } from './connector';
import type { ConnectorContext, ProviderDefinition, ProviderModule, WebhookAdapter, WebhookChannelKeeper } from './provider';
import type { LimiterRegistry } from './rate-limiter';
import { pushConfigProperties, type CrmWriter, type FileSink } from './writer';

/** A template row made from a provider's definition (created at start, never overwritten). */
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

/** The providers this service runs with: built in the composition root from a list of modules. */
export class ProviderRegistry {
  private readonly byName = new Map<string, ProviderModule>();

  constructor(modules: readonly ProviderModule[]) {
    for (const m of modules) {
      if (!/^[a-z0-9_]+$/.test(m.definition.name)) throw new Error(`provider name ${m.definition.name} must be [a-z0-9_]`);
      if (this.byName.has(m.definition.name)) throw new Error(`provider ${m.definition.name} is listed twice`);
      this.byName.set(m.definition.name, m);
    }
  }

  get(name: string): ProviderModule | undefined {
    return this.byName.get(name);
  }

  list(): ProviderModule[] {
    return [...this.byName.values()];
  }

  /** The provider a name in an OAuth path means: itself, or the one listing it as an alias. */
  oauthName(name: string): string {
    if (this.byName.has(name)) return name;
    return this.list().find((m) => m.definition.oauth?.pathAliases?.includes(name))?.definition.name ?? name;
  }

  webhook(name: string): WebhookAdapter | undefined {
    return this.byName.get(name)?.webhook;
  }

  /** The config field naming the CRM account in webhooks; templates without a provider module use locationId. */
  routingKeyField(name: string): string | null {
    const m = this.byName.get(name);
    return m ? m.definition.routingKeyField : 'locationId';
  }

  /** The providers whose webhooks need a channel the service keeps open. */
  channelProviders(): string[] {
    return this.list()
      .filter((m) => m.createChannelKeeper)
      .map((m) => m.definition.name);
  }

  templates(): BuiltInTemplate[] {
    return this.list().map(({ definition: d }) => templateOf(d));
  }
}

function templateOf(d: ProviderDefinition): BuiltInTemplate {
  const schema = d.configSchema as { properties?: Record<string, unknown> };
  const configSchema = d.push ? { ...schema, properties: { ...schema.properties, ...pushConfigProperties(d.push) } } : d.configSchema;
  return {
    name: d.name,
    displayName: d.displayName,
    category: d.category,
    icon: d.icon,
    description: d.description,
    apiVersion: d.apiVersion,
    webhookUrl: d.webhooks ? `/api/webhooks/${d.name}` : null,
    configSchema,
    setupInstructions: d.setupInstructions,
  };
}

export interface ConnectorDeps {
  logger: Logger;
  http: { timeoutMs: number; maxRetries: number; retryBaseMs: number; allowPrivateUrls: boolean; budgetRecheckMs?: number };
  pageSize: number;
  limiters: LimiterRegistry;
}

/** Which stored integration a connector works for, and how it writes back what the CRM told it. */
export interface ConnectorBinding {
  integrationId: number | null;
  saveConfig(changes: Record<string, unknown>): Promise<void>;
  /** A new access token after the CRM refused the current one (OAuth integrations); else null. */
  reauthorize?(): Promise<string | null>;
}

export type ConnectorFactory = (provider: string, config: Record<string, unknown>, binding?: ConnectorBinding) => CrmConnector | undefined;

export function createConnectorFactory(registry: ProviderRegistry, deps: ConnectorDeps): ConnectorFactory {
  return (provider, config, binding) => registry.get(provider)?.createConnector(config, contextOf(deps, binding));
}

/** The write halves, built with the same context as connectors (one limiter per integration for both). */
export interface WriterFactory {
  writer(provider: string, config: Record<string, unknown>, binding?: ConnectorBinding): CrmWriter | undefined;
  fileSink(provider: string, config: Record<string, unknown>, binding?: ConnectorBinding): FileSink | undefined;
  channelKeeper(provider: string, config: Record<string, unknown>, binding?: ConnectorBinding): WebhookChannelKeeper | undefined;
}

export function createWriterFactory(registry: ProviderRegistry, deps: ConnectorDeps): WriterFactory {
  return {
    writer: (provider, config, binding) => registry.get(provider)?.createWriter?.(config, contextOf(deps, binding)),
    fileSink: (provider, config, binding) => registry.get(provider)?.createFileSink?.(config, contextOf(deps, binding)),
    channelKeeper: (provider, config, binding) => registry.get(provider)?.createChannelKeeper?.(config, contextOf(deps, binding)),
  };
}

function contextOf(deps: ConnectorDeps, binding: ConnectorBinding | undefined): ConnectorContext {
  return {
    integrationId: binding?.integrationId ?? null,
    logger: deps.logger,
    http: deps.http,
    pageSize: deps.pageSize,
    limiter: (requestsPerSecond) => deps.limiters.for(binding?.integrationId ?? null, requestsPerSecond),
    saveConfig: binding?.saveConfig ?? (async () => undefined),
    reauthorize: binding?.reauthorize ?? (async () => null),
  };
}
