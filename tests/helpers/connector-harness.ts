import winston from 'winston';
import Transport from 'winston-transport';
import type { CrmConnector } from '../../src/providers/connector';
import type { ProviderModule } from '../../src/providers/provider';
import { createLimiter, LimiterRegistry, type RequestLimiter } from '../../src/providers/rate-limiter';
import { createConnectorFactory, createWriterFactory, ProviderRegistry, type ConnectorBinding } from '../../src/providers/registry';
import type { CrmWriter, FileSink } from '../../src/providers/writer';

/** Keeps what was logged, so a test can check what a connector says. */
export class LogCapture extends Transport {
  entries: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.entries.push(info);
    next();
  }
}

/** A logger writing only to a capture. */
export function capturingLogger(level: 'info' | 'warn'): { capture: LogCapture; logger: winston.Logger } {
  const capture = new LogCapture();
  return { capture, logger: winston.createLogger({ level, transports: [capture] }) };
}

/** No pacing at all: for tests reading thousands of contacts (the providers' paces are checked on their own). */
export class Unpaced extends LimiterRegistry {
  override for(): RequestLimiter {
    return createLimiter(0);
  }
}

/** A provider's connector built the way the service builds it (registry and factory), unbound by default. */
export function buildConnector(
  module: ProviderModule,
  config: Record<string, unknown>,
  o: {
    logger: winston.Logger;
    pageSize: number;
    timeoutMs?: number;
    retries?: number;
    limiters?: LimiterRegistry;
    binding?: Partial<ConnectorBinding>;
  },
): CrmConnector {
  const create = createConnectorFactory(new ProviderRegistry([module]), {
    logger: o.logger,
    pageSize: o.pageSize,
    http: { timeoutMs: o.timeoutMs ?? 2000, maxRetries: o.retries ?? 3, retryBaseMs: 10, allowPrivateUrls: true },
    limiters: o.limiters ?? new Unpaced(),
  });
  const binding: ConnectorBinding = { integrationId: null, saveConfig: async () => undefined, ...o.binding };
  return create(module.definition.name, config, binding) as CrmConnector;
}

/** A provider's writer (or file sink) built the way the service builds it, unbound by default. */
export function buildWriter(
  module: ProviderModule,
  config: Record<string, unknown>,
  o: { logger: winston.Logger; timeoutMs?: number; retries?: number; limiters?: LimiterRegistry; binding?: Partial<ConnectorBinding> },
): { writer: CrmWriter | undefined; fileSink: FileSink | undefined } {
  const factory = createWriterFactory(new ProviderRegistry([module]), {
    logger: o.logger,
    pageSize: 100,
    http: { timeoutMs: o.timeoutMs ?? 2000, maxRetries: o.retries ?? 3, retryBaseMs: 10, allowPrivateUrls: true },
    limiters: o.limiters ?? new Unpaced(),
  });
  const binding: ConnectorBinding = { integrationId: null, saveConfig: async () => undefined, ...o.binding };
  return {
    writer: factory.writer(module.definition.name, config, binding),
    fileSink: factory.fileSink(module.definition.name, config, binding),
  };
}
