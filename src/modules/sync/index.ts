// Syncs: the upstream push, pulls from CRMs, and the run log. src/jobs schedules pulls.
export type { PullMode, PullService, RunOutcome } from './pull.service';
export type { SyncRunRepository } from './sync-runs.repository';
// The run log and the integration's sync lease, shared with the push backfill (crm-push).
export { createPullRepository, LeaseLostError, type PageCounts, type PullRepository, type RunEventRow } from './pull.repository';
// The scheduled-sync queue (src/jobs ticks into it and works it).
export { createSyncJobRepository, type ClaimedSyncJob, type SyncJobQueue, type SyncJobRepository } from './sync-jobs.repository';
