-- The last refresh that failed, per OAuth integration: the daily keep-alive job lists them.

-- AlterTable
ALTER TABLE "integration_tokens" ADD COLUMN "last_refresh_error" TEXT,
ADD COLUMN "last_refresh_failed_at" TIMESTAMPTZ(3);
