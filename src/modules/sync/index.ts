// Syncs: the upstream push, pulls from CRMs, and the run log. src/jobs schedules pulls.
export type { PullMode, PullService, RunOutcome } from './pull.service';
export type { SyncRunRepository } from './sync-runs.repository';
