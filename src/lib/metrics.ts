import { Counter, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, one registry per app instance (tests build several apps
 * in one process). Counters are only ever incremented here; GET /metrics serves the registry.
 */
export function createMetrics() {
  const registry = new Registry();
  return {
    registry,
    webhookInbound: new Counter({
      name: 'webhook_inbound_events_total',
      help: 'Inbound webhook requests by channel and outcome (accepted, duplicate, rejected_*)',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    }),
    webhookProcessed: new Counter({
      name: 'webhook_inbound_processed_total',
      help: 'Inbound webhook events processed, by outcome (created, updated, stale, failed, retry, ...)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
