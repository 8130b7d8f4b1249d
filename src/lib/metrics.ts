import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the queue gauges read when Prometheus scrapes. */
export type QueueDepths = () => Promise<{ inbox: number; deliveries: number }>;

/**
 * The service's Prometheus metrics, one registry per app instance (tests build several apps
 * in one process). GET /metrics serves the registry.
 */
export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let depths: QueueDepths | null = null;
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route (the pattern, not the URL) and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    syncRuns: new Counter({
      name: 'sync_runs_total',
      help: 'Finished sync runs by provider (push for the upstream push) and outcome',
      labelNames: ['provider', 'operation', 'outcome'] as const,
      registers,
    }),
    syncDuration: new Histogram({
      name: 'sync_run_duration_seconds',
      help: 'Sync run duration by provider and operation',
      labelNames: ['provider', 'operation'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    }),
    syncRecords: new Counter({
      name: 'sync_records_total',
      help: 'Records processed by sync runs, by provider and result (created, updated, unchanged, deleted, failed)',
      labelNames: ['provider', 'result'] as const,
      registers,
    }),
    webhookInbound: new Counter({
      name: 'webhook_inbound_events_total',
      help: 'Inbound webhook requests by channel and outcome (accepted, duplicate, rejected_*)',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    webhookProcessed: new Counter({
      name: 'webhook_inbound_processed_total',
      help: 'Inbound webhook events processed, by outcome (created, updated, stale, retry, failed, ...)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    deliveries: new Counter({
      name: 'webhook_deliveries_total',
      help: 'Outbound delivery attempts by outcome (succeeded, retry, failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    deliveryDuration: new Histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'Outbound delivery attempt latency',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    /** Gives the queue gauges their source (the composition root, once the database exists). */
    setQueueDepths(fn: QueueDepths) {
      depths = fn;
    },
  };
  // One query per scrape serves both gauges.
  let pending: Promise<{ inbox: number; deliveries: number }> | null = null;
  const read = () => {
    if (!depths) return Promise.resolve({ inbox: 0, deliveries: 0 });
    pending ??= depths().finally(() => setTimeout(() => (pending = null), 0));
    return pending;
  };
  new Gauge({
    name: 'webhook_inbox_pending',
    help: 'Inbound webhook events waiting to be processed',
    registers,
    async collect() {
      this.set((await read()).inbox);
    },
  });
  new Gauge({
    name: 'webhook_deliveries_pending',
    help: 'Outbound deliveries waiting to be sent (including scheduled retries)',
    registers,
    async collect() {
      this.set((await read()).deliveries);
    },
  });
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The Prometheus text format of `metrics`' registry. */
export function metricsHandler(metrics: Metrics): RequestHandler {
  return async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  };
}
