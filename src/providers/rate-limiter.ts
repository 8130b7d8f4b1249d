import type { Logger } from 'winston';

/**
 * Outbound request pacing for one CRM account. One limiter per integration per process
 * (LimiterRegistry), shared by every caller, so a connection test during a sync does not
 * double the rate; with a BudgetStore (PostgreSQL, see shared-budget.ts) the spacing, the
 * pauses and the daily use are shared by every instance too.
 */
export interface RequestLimiter {
  /** Resolves when this request may go. */
  acquire(): Promise<void>;
  /** The CRM said to wait (429 with Retry-After, or its budget is spent): no call before `at` (ms). */
  pauseUntil(at: number): void;
  /** The account's daily use as an answer just told it (Salesforce's api-usage, HighLevel's daily headers). */
  reportDaily(usage: DailyUsage): void;
  /** The newest daily use known to any instance, with its age; null when no answer told it yet. */
  daily(): Promise<(DailyUsage & { ageMs: number }) | null>;
}

/** Calls left today and the day's limit (null: the CRM tells only what is left, as Zoho does). */
export interface DailyUsage {
  remaining: number;
  limit: number | null;
}

/**
 * Where the limiters of one account meet across instances. `reserve` takes the next slot
 * (`gapMs` after the previous one) and answers how long to wait for it, with the daily use
 * last written; the clock is the store's, so instances' clocks need not agree.
 */
export interface BudgetStore {
  reserve(integrationId: number, gapMs: number): Promise<{ waitMs: number; daily: (DailyUsage & { ageMs: number }) | null }>;
  daily(integrationId: number): Promise<(DailyUsage & { ageMs: number }) | null>;
  pause(integrationId: number, forMs: number): Promise<void>;
  recordDaily(integrationId: number, usage: DailyUsage): Promise<void>;
}

/** Spaces requests at least 1/rps apart, in call order; 0 = no spacing. */
export function createLimiter(requestsPerSecond: number): RequestLimiter {
  const gap = requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0;
  let next = 0;
  let daily: { usage: DailyUsage; at: number } | null = null;
  return {
    async acquire() {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + gap;
      if (at > now) await sleep(at - now);
    },
    pauseUntil(at) {
      next = Math.max(next, at);
    },
    reportDaily(usage) {
      daily = { usage, at: Date.now() };
    },
    daily: async () => (daily ? { ...daily.usage, ageMs: Date.now() - daily.at } : null),
  };
}

// The daily use is written to the store when it moved by this share of the limit, when it is
// near the end, or when the written value is this old: not one write per call.
const DAILY_WRITE_STEP = 0.005;
const DAILY_WRITE_NEAR = 0.25;
const DAILY_WRITE_MAX_AGE_MS = 30_000;
const DAILY_LOCAL_FRESH_MS = 1000;

/**
 * The limiter of one integration, paced through the store: each call takes the next slot of
 * the account in one statement, whichever instance makes it, and a pause (a 429's
 * Retry-After, a spent window) moves the slot for all. Should the store fail, this process
 * keeps pacing on its own (and says so once a minute) rather than stopping its calls.
 */
export function createSharedLimiter(store: BudgetStore, integrationId: number, requestsPerSecond: number, logger: Logger): RequestLimiter {
  const local = createLimiter(requestsPerSecond);
  const gap = requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0;
  let pausedUntil = 0;
  let shared: { usage: DailyUsage; at: number } | null = null;
  let written: { usage: DailyUsage; at: number } | null = null;
  let warnedAt = 0;
  const fallback = (err: unknown) => {
    if (Date.now() - warnedAt > 60_000) {
      warnedAt = Date.now();
      logger.warn('shared rate budget unavailable: pacing this process alone', {
        integrationId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  const newest = (a: typeof shared, b: typeof shared) => (!a ? b : !b ? a : a.at >= b.at ? a : b);
  return {
    async acquire() {
      // A pause this process heard of holds even before the store has it.
      if (pausedUntil > Date.now()) await sleep(pausedUntil - Date.now());
      try {
        const slot = await store.reserve(integrationId, gap);
        if (slot.daily) shared = newest(shared, { usage: slot.daily, at: Date.now() - slot.daily.ageMs });
        if (slot.waitMs > 0) await sleep(slot.waitMs);
      } catch (err) {
        fallback(err);
        await local.acquire();
      }
    },
    pauseUntil(at) {
      pausedUntil = Math.max(pausedUntil, at);
      local.pauseUntil(at);
      store.pause(integrationId, Math.max(0, at - Date.now())).catch(fallback);
    },
    reportDaily(usage) {
      const now = Date.now();
      shared = { usage, at: now };
      const last = written?.usage;
      // Without a limit (Zoho tells what is left only once half is spent) every change is near the end.
      const scale = usage.limit ?? 0;
      const due =
        !last ||
        last.limit !== usage.limit ||
        Math.abs(usage.remaining - last.remaining) >= Math.max(1, scale * DAILY_WRITE_STEP) ||
        usage.remaining <= scale * DAILY_WRITE_NEAR ||
        now - (written?.at ?? 0) >= DAILY_WRITE_MAX_AGE_MS;
      if (!due) return;
      written = { usage, at: now };
      store.recordDaily(integrationId, usage).catch(fallback);
    },
    async daily() {
      // What this process heard lately is enough; otherwise another instance may know more.
      if (!shared || Date.now() - shared.at > DAILY_LOCAL_FRESH_MS) {
        try {
          const stored = await store.daily(integrationId);
          if (stored) shared = newest(shared, { usage: stored, at: Date.now() - stored.ageMs });
        } catch (err) {
          fallback(err);
        }
      }
      return shared ? { ...shared.usage, ageMs: Date.now() - shared.at } : null;
    },
  };
}

/** Limiters by integration id; a rate change (config edit) gets a fresh one. */
export class LimiterRegistry {
  private readonly byIntegration = new Map<number, { rps: number; limiter: RequestLimiter }>();

  /** Without a store, limiters pace this process only (tests, tools). */
  constructor(private readonly shared?: { store: BudgetStore; logger: Logger }) {}

  /** `integrationId` null: an unbound connector, with a limiter of its own. */
  for(integrationId: number | null, requestsPerSecond: number): RequestLimiter {
    if (integrationId === null) return createLimiter(requestsPerSecond);
    const held = this.byIntegration.get(integrationId);
    if (held && held.rps === requestsPerSecond) return held.limiter;
    const limiter = this.shared
      ? createSharedLimiter(this.shared.store, integrationId, requestsPerSecond, this.shared.logger)
      : createLimiter(requestsPerSecond);
    this.byIntegration.set(integrationId, { rps: requestsPerSecond, limiter });
    return limiter;
  }
}

/** A provider's documented budget as requests per second (HubSpot: 100 per 10 s → 10/s). */
export const perSecond = (limit: { requests: number; perMs: number } | null): number => (limit ? (limit.requests * 1000) / limit.perMs : 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
