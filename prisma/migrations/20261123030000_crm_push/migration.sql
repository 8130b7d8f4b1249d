-- The write direction (issue 13): a queue of users to push, one row per integration and user
-- (a change to a user already queued bumps its version: the worker sends the user as it is
-- then, so changes reach the CRM in order and a burst costs one call), and on each identity
-- what we last pushed (a repeat sends nothing; an echo of it is recognised).

-- CreateTable
CREATE TABLE "crm_push_queue" (
    "id" BIGSERIAL NOT NULL,
    "integration_id" INTEGER NOT NULL,
    "organization_id" INTEGER NOT NULL,
    "user_id" INTEGER NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "sent_version" INTEGER,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "locked_until" TIMESTAMPTZ(3),
    "last_action" TEXT,
    "last_error" TEXT,
    "done_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "crm_push_queue_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "crm_push_queue_integration_id_user_id_key" ON "crm_push_queue"("integration_id", "user_id");

-- CreateIndex
CREATE INDEX "crm_push_queue_status_next_attempt_at_idx" ON "crm_push_queue"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "crm_push_queue_user_id_idx" ON "crm_push_queue"("user_id");

-- AddForeignKey
ALTER TABLE "crm_push_queue" ADD CONSTRAINT "crm_push_queue_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "crm_push_queue" ADD CONSTRAINT "crm_push_queue_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AlterTable
ALTER TABLE "user_identities" ADD COLUMN "pushed_hash" TEXT,
ADD COLUMN "pushed_fields" JSONB,
ADD COLUMN "pushed_at" TIMESTAMPTZ(3);
