import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'winston';

export interface PassSchedule {
  enabled: boolean;
  schedule: string;
  timezone: string;
}

/**
 * Runs `pass` on the schedule (not while the previous pass still runs), logging what it did or
 * why it failed; a failed pass waits for the next tick. Null when the schedule is off.
 */
export function schedulePass<T extends object>(
  name: string,
  opts: PassSchedule,
  logger: Logger,
  pass: () => Promise<T>,
  worthLogging: (result: T) => boolean = () => true,
): ScheduledTask | null {
  if (!opts.enabled) return null;
  return cron.schedule(
    opts.schedule,
    async () => {
      try {
        const result = await pass();
        if (worthLogging(result)) logger.info(`${name} done`, result);
      } catch (err) {
        logger.error(`${name} failed`, { error: err instanceof Error ? err.message : String(err) });
      }
    },
    { name, timezone: opts.timezone, noOverlap: true },
  );
}

/** What GET /api/sync/jobs shows of a scheduled pass: its schedule and next run (null when off). */
export function passFacts(name: string, opts: PassSchedule, task: ScheduledTask | null) {
  return { name, schedule: opts.schedule, timezone: opts.timezone, enabled: opts.enabled, nextRunAt: task?.getNextRun() ?? null };
}
