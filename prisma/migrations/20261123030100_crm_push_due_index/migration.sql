-- The push worker claims an integration's open rows in id order: a partial index holds only
-- those, so a claim costs the rows it takes, not every user ever pushed (done rows stay, one per
-- integration and user, as the record of what was last sent). Prisma cannot express a partial
-- index; tests/db/schema-drift.int.test.ts lists it.
CREATE INDEX "crm_push_queue_open_idx" ON "crm_push_queue"("integration_id", "id") WHERE "status" IN ('pending', 'sending');
