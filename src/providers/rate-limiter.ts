/**
 * Outbound request pacing for one CRM account. One limiter per integration per process
 * (LimiterRegistry), shared by every caller, so a connection test during a sync does not
 * double the rate. Across instances nothing is shared yet (see the README).
 */
export interface RequestLimiter {
  /** Resolves when this request may go. */
  acquire(): Promise<void>;
  /** The CRM said to wait (429 with Retry-After, or its budget is spent): no call before `at` (ms). */
  pauseUntil(at: number): void;
}

/** Spaces requests at least 1/rps apart, in call order; 0 = no spacing. */
export function createLimiter(requestsPerSecond: number): RequestLimiter {
  const gap = requestsPerSecond > 0 ? 1000 / requestsPerSecond : 0;
  let next = 0;
  return {
    async acquire() {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + gap;
      if (at > now) await new Promise((r) => setTimeout(r, at - now));
    },
    pauseUntil(at) {
      next = Math.max(next, at);
    },
  };
}

/** Limiters by integration id; a rate change (config edit) gets a fresh one. */
export class LimiterRegistry {
  private readonly byIntegration = new Map<number, { rps: number; limiter: RequestLimiter }>();

  /** `integrationId` null: an unbound connector, with a limiter of its own. */
  for(integrationId: number | null, requestsPerSecond: number): RequestLimiter {
    if (integrationId === null) return createLimiter(requestsPerSecond);
    const held = this.byIntegration.get(integrationId);
    if (held && held.rps === requestsPerSecond) return held.limiter;
    const limiter = createLimiter(requestsPerSecond);
    this.byIntegration.set(integrationId, { rps: requestsPerSecond, limiter });
    return limiter;
  }
}

/** A provider's documented budget as requests per second (HubSpot: 100 per 10 s → 10/s). */
export const perSecond = (limit: { requests: number; perMs: number } | null): number => (limit ? (limit.requests * 1000) / limit.perMs : 0);
