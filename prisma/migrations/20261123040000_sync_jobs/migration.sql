-- Scheduled syncs as a job table (issue 14): a cron tick inserts one job per active
-- integration and mode for the tick's scheduled time (unique, so a second tick or instance
-- for the same time inserts nothing), and workers on every instance claim them with
-- SKIP LOCKED, a few at a time, round-robin across organizations.

-- CreateTable
CREATE TABLE "sync_jobs" (
    "id" BIGSERIAL NOT NULL,
    "integration_id" INTEGER NOT NULL,
    "organization_id" INTEGER NOT NULL,
    "mode" TEXT NOT NULL,
    "trigger" TEXT NOT NULL DEFAULT 'cron',
    "scheduled_for" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "not_before" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "claimed_by" TEXT,
    "locked_until" TIMESTAMPTZ(3),
    "run_id" INTEGER,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sync_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "sync_jobs_integration_id_mode_scheduled_for_key" ON "sync_jobs"("integration_id", "mode", "scheduled_for");

-- CreateIndex
CREATE INDEX "sync_jobs_status_not_before_idx" ON "sync_jobs"("status", "not_before");

-- CreateIndex
CREATE INDEX "sync_jobs_finished_at_idx" ON "sync_jobs"("finished_at");

-- AddForeignKey
ALTER TABLE "sync_jobs" ADD CONSTRAINT "sync_jobs_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
