import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import axios, { type AxiosInstance } from 'axios';
import type { Logger } from 'winston';
import type { Metrics } from '../../lib/metrics';
import type { SecretBox } from '../../lib/secret-box';
import { assertPublicHost, publicOnlyLookup } from '../../lib/url-guard';
import { storableText } from '../../lib/input-guard';
import { GroupBatcher } from '../../lib/group-batcher';
import { PollingLoop } from '../../lib/polling-loop';
import type { AttemptRecord, ChangedSubscription, ClaimedDelivery, DeliveryRepository } from './deliveries.repository';
import { signDelivery } from './signing';

export interface DeliveryOptions {
  /** Seconds before each attempt; its length is the number of attempts. */
  schedule: number[];
  jitter: number;
  timeoutMs: number;
  disableAfter: number;
  concurrency: number;
  /** Deliveries of one subscription in flight at once, across instances (counted in the table). */
  maxInFlightPerSubscription: number;
  allowPrivateUrls: boolean;
  pollMs: number;
  metrics?: Metrics;
}

type Verdict =
  | { kind: 'succeeded' }
  | { kind: 'gone' }
  | { kind: 'retry'; retryAfterMs: number | null }
  | { kind: 'blocked' /* SSRF guard: retrying cannot help */ };

const RESPONSE_BODY_LIMIT = 1024;
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/**
 * Sends outbound webhooks from the deliveries table. Several instances may run it: claims
 * use FOR UPDATE SKIP LOCKED, and a claim left by a crashed instance is taken again after its
 * deadline (so an attempt may repeat after a crash, never in normal running).
 */
export class DeliveryWorker {
  private readonly http: AxiosInstance;
  private inFlight = 0;
  private lastClaimAt = 0;
  private readonly loop: PollingLoop;
  private readonly sends = new Set<Promise<void>>();
  // Results are written in groups: one statement and one commit for many attempts.
  private readonly results = new GroupBatcher<AttemptRecord, ChangedSubscription[]>(async (batch) => {
    const changed = await this.repo.record(batch, this.opts.disableAfter);
    return batch.map(() => changed);
  });

  constructor(
    private readonly repo: DeliveryRepository,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    private readonly opts: DeliveryOptions,
  ) {
    const agentOptions = { keepAlive: true, maxSockets: opts.concurrency, ...(opts.allowPrivateUrls ? {} : { lookup: publicOnlyLookup }) };
    this.http = axios.create({
      timeout: opts.timeoutMs,
      // A redirect could lead anywhere, past the SSRF guard; receivers must answer themselves.
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: (x) => x,
      maxContentLength: 1024 * 1024,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      headers: { 'User-Agent': 'crm-integration-service-webhooks/1' },
    });
    this.loop = new PollingLoop(() => this.claimSome(), opts.pollMs);
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    // Attempts in flight finish and are recorded; nothing new starts.
    await Promise.allSettled([...this.sends]);
  }

  /** Nudges the loop (e.g. after a retry was queued) instead of waiting for the next poll. */
  poke(): void {
    this.loop.wake();
  }

  /** Sends everything due now, then returns (tests, scripts); a batch holds each subscription's cap at most. */
  async drain(): Promise<number> {
    let sent = 0;
    for (;;) {
      const batch = await this.claim(this.opts.concurrency);
      if (batch.length === 0) return sent;
      await Promise.all(batch.map((d) => this.deliver(d)));
      sent += batch.length;
    }
  }

  /** Fills free sending slots; true when it filled them all (there may be more due). */
  private async claimSome(): Promise<boolean> {
    const free = this.opts.concurrency - this.inFlight;
    // Claim in bulk: one query per half-emptied pool, not one per finished send. But at least
    // once a poll for any free slot: sends to hanging endpoints may hold half the pool for the
    // whole timeout, and the other subscriptions must not wait for them.
    if (free <= 0) return false;
    if (free < this.opts.concurrency / 2 && Date.now() - this.lastClaimAt < this.opts.pollMs) return false;
    this.lastClaimAt = Date.now();
    try {
      const batch = await this.claim(free);
      for (const d of batch) this.track(this.deliver(d));
      return batch.length > 0 && batch.length === free;
    } catch (err) {
      this.logger.error('webhook delivery claim failed', { err: (err as Error).message });
      return false;
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight++;
    this.sends.add(p);
    void p.finally(() => {
      this.inFlight--;
      this.sends.delete(p);
      if (this.inFlight <= this.opts.concurrency / 2) this.loop.wake();
    });
  }

  private claim(limit: number): Promise<ClaimedDelivery[]> {
    return this.repo.claim(limit, Math.ceil(this.opts.timeoutMs / 1000) + 30, this.opts.maxInFlightPerSubscription);
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    try {
      if (!d.is_active) {
        // Disabled since it was queued: kept for recovery, not sent.
        await this.repo.skip(d.id);
        return;
      }
      await this.attempt(d);
    } catch (err) {
      // The database failed us; the claim's deadline hands the delivery to a later pass.
      this.logger.error('webhook delivery bookkeeping failed', { deliveryId: d.id, err: (err as Error).message });
    }
  }

  private async attempt(d: ClaimedDelivery): Promise<void> {
    const body = JSON.stringify({ id: d.event_id, event: d.type, timestamp: d.created_at.toISOString(), data: d.data });
    const secrets = [this.box.open(d.secret)];
    if (d.previous_secret && d.previous_secret_expires_at && d.previous_secret_expires_at > new Date()) {
      secrets.push(this.box.open(d.previous_secret));
    }
    const startedAt = new Date();
    const signed = signDelivery(secrets, d.event_id, Math.floor(startedAt.getTime() / 1000), body);
    let statusCode: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    let verdict: Verdict;
    let deadline: AbortSignal | undefined;
    try {
      const { hostname } = new URL(d.url);
      // IP-literal URLs never reach the agent's lookup.
      if (!this.opts.allowPrivateUrls && net.isIP(hostname.replace(/^\[|\]$/g, ''))) await assertPublicHost(hostname);
      // axios's timeout only bounds the silences (a receiver sending a byte a second would hold
      // the slot for ever, and outlive its claim); this bounds the whole attempt.
      deadline = AbortSignal.timeout(this.opts.timeoutMs);
      const res = await this.http.post(d.url, body, {
        signal: deadline,
        headers: {
          'Content-Type': 'application/json',
          'X-Webhook-Id': String(d.subscription_id),
          'X-Webhook-Event': d.type,
          ...signed,
        },
      });
      statusCode = res.status;
      // The receiver's text is kept for the log: made storable (a NUL would fail the whole batch).
      responseBody = typeof res.data === 'string' ? storableText(res.data.slice(0, RESPONSE_BODY_LIMIT)) : null;
      verdict = classify(res.status, res.headers['retry-after']);
      if (verdict.kind !== 'succeeded') error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { code?: string };
      error = storableText(
        e.name === 'BlockedAddressError'
          ? e.message
          : deadline?.aborted
            ? `ETIMEDOUT: no whole answer within ${this.opts.timeoutMs} ms`
            : `${e.code ?? e.name}: ${e.message}`.slice(0, 500),
      );
      verdict = e.name === 'BlockedAddressError' ? { kind: 'blocked' } : { kind: 'retry', retryAfterMs: null };
    }
    const latencyMs = Date.now() - startedAt.getTime();
    const last = d.attempts >= this.opts.schedule.length;
    let status: string;
    let next: Date | null = null;
    let effect: 'reset' | 'fail' | 'gone' | 'none';
    if (verdict.kind === 'succeeded') {
      status = 'succeeded';
      effect = 'reset';
    } else if (verdict.kind === 'gone') {
      status = 'failed';
      effect = 'gone';
    } else if (verdict.kind === 'blocked' || last) {
      status = 'failed';
      effect = 'fail';
    } else {
      status = 'pending';
      effect = 'none';
      next = new Date(Date.now() + this.delayMs(d.attempts, verdict.retryAfterMs));
    }
    const changed = await this.results.add({
      id: d.id,
      attempt: d.attempts,
      started_at: startedAt.toISOString(),
      status_code: statusCode,
      latency_ms: latencyMs,
      response_body: responseBody,
      error,
      status,
      next: next?.toISOString() ?? null,
      subscriptionId: d.subscription_id,
      effect,
    });
    this.opts.metrics?.deliveries.inc({ outcome: status === 'pending' ? 'retry' : status });
    this.opts.metrics?.deliveryDuration.observe(latencyMs / 1000);
    const level = status === 'succeeded' ? 'debug' : 'warn';
    this.logger[level]('webhook delivery attempt', {
      deliveryId: d.id,
      subscriptionId: d.subscription_id,
      event: d.type,
      attempt: d.attempts,
      statusCode,
      latencyMs,
      outcome: status,
      error,
    });
    const disabled = changed.find((s) => s.id === d.subscription_id && !s.is_active);
    if (disabled) {
      this.logger.warn('endpoint.disabled', { subscriptionId: disabled.id, url: d.url, reason: disabled.disabled_reason });
    }
  }

  /** Delay before attempt `done + 1`: the schedule with jitter, or longer if the receiver asked. */
  private delayMs(done: number, retryAfterMs: number | null): number {
    const base = this.opts.schedule[Math.min(done, this.opts.schedule.length - 1)] * 1000;
    const jittered = base * (1 + (Math.random() * 2 - 1) * this.opts.jitter);
    return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  }
}

function classify(status: number, retryAfter: unknown): Verdict {
  if (status >= 200 && status < 300) return { kind: 'succeeded' };
  if (status === 410) return { kind: 'gone' };
  if (status === 429 || status === 503) return { kind: 'retry', retryAfterMs: parseRetryAfter(retryAfter) };
  return { kind: 'retry', retryAfterMs: null };
}

/** Retry-After: seconds, or an HTTP date. */
export function parseRetryAfter(value: unknown): number | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}
