-- The push queue list (GET /api/integrations/:id/push-queue) of an integration with a million
-- users: its rows by last change, of one status or all, and a count per status, read in
-- order from one index instead of sorting and counting every row. All statuses at once are
-- a merge of one range per status. Every change of a row (its status and updated_at) writes an
-- entry, as the queue's other indexes already do.
CREATE INDEX "crm_push_queue_list_idx" ON "crm_push_queue"("integration_id", "status", "updated_at", "user_id");
