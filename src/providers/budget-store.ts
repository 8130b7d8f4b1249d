import type { Db } from '../db/prisma';
import type { BudgetStore, DailyUsage } from './rate-limiter';

/**
 * Takes the account's next request slot: the later of the stored slot and now, plus the gap
 * for the next caller. Waits are measured on the database's clock, so instances whose clocks
 * differ still space their calls. The daily use comes back in the same round trip.
 */
const RESERVE = `
  INSERT INTO crm_rate_budgets AS b (integration_id, next_at)
  VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000))
  ON CONFLICT (integration_id) DO UPDATE
    SET next_at = GREATEST(b.next_at, clock_timestamp()) + make_interval(secs => $2::float8 / 1000)
  RETURNING GREATEST(0, extract(epoch FROM b.next_at - clock_timestamp()) * 1000 - $2::float8)::float8 AS "waitMs",
            b.daily_remaining AS "dailyRemaining", b.daily_limit AS "dailyLimit",
            (extract(epoch FROM clock_timestamp() - b.daily_observed_at) * 1000)::float8 AS "dailyAgeMs"`;

const PAUSE = `
  INSERT INTO crm_rate_budgets AS b (integration_id, next_at)
  VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000))
  ON CONFLICT (integration_id) DO UPDATE
    SET next_at = GREATEST(b.next_at, clock_timestamp() + make_interval(secs => $2::float8 / 1000))`;

const RECORD_DAILY = `
  INSERT INTO crm_rate_budgets AS b (integration_id, daily_remaining, daily_limit, daily_observed_at)
  VALUES ($1, $2, $3, clock_timestamp())
  ON CONFLICT (integration_id) DO UPDATE
    SET daily_remaining = $2, daily_limit = $3, daily_observed_at = clock_timestamp()`;

const DAILY = `
  SELECT daily_remaining AS "dailyRemaining", daily_limit AS "dailyLimit",
         (extract(epoch FROM clock_timestamp() - daily_observed_at) * 1000)::float8 AS "dailyAgeMs"
  FROM crm_rate_budgets WHERE integration_id = $1 AND daily_remaining IS NOT NULL`;

type DailyRow = { dailyRemaining: number | null; dailyLimit: number | null; dailyAgeMs: number | null };
const dailyOf = (row: DailyRow | undefined) =>
  row && row.dailyRemaining !== null && row.dailyAgeMs !== null
    ? { remaining: row.dailyRemaining, limit: row.dailyLimit, ageMs: row.dailyAgeMs }
    : null;

/** The rate budgets of CRM accounts in PostgreSQL (crm_rate_budgets), one row per integration. */
export function createBudgetStore(db: Db): BudgetStore {
  return {
    async reserve(integrationId, gapMs) {
      const [row] = await db.$queryRawUnsafe<(DailyRow & { waitMs: number })[]>(RESERVE, integrationId, gapMs);
      return { waitMs: row.waitMs, daily: dailyOf(row) };
    },
    async daily(integrationId) {
      return dailyOf((await db.$queryRawUnsafe<DailyRow[]>(DAILY, integrationId))[0]);
    },
    async pause(integrationId, forMs) {
      await db.$executeRawUnsafe(PAUSE, integrationId, forMs);
    },
    async recordDaily(integrationId, usage: DailyUsage) {
      await db.$executeRawUnsafe(
        RECORD_DAILY,
        integrationId,
        clampInt(usage.remaining),
        usage.limit === null ? null : clampInt(usage.limit),
      );
    },
  };
}

// A CRM's header is text: a number past int4 is stored as the largest one, not an error.
const clampInt = (n: number) => Math.max(0, Math.min(2_147_483_647, Math.round(n)));
