-- Retention (src/modules/retention): every prune reads its oldest candidates through an
-- index, so a batch costs its own rows, not a scan of the history that is kept.

-- Inbound events whose payload may still be pruned. Partial: payloads already pruned (their
-- rows stay, for the dedupe key) are not read again by every run, and an insert (always
-- pending) adds no entry. Prisma cannot express the predicate: listed in the drift test.
CREATE INDEX "inbound_events_prunable_idx" ON "inbound_events" ("received_at")
  WHERE "status" IN ('processed', 'failed') AND NOT ("payload" @> '{"pruned": true}'::jsonb);

-- Delivered deliveries by delivery time; the open ones (the hot part) are not in it.
CREATE INDEX "webhook_deliveries_succeeded_idx" ON "webhook_deliveries" ("delivered_at") WHERE "status" = 'succeeded';

-- Outbound events left with no delivery, oldest first.
CREATE INDEX "webhook_events_created_at_idx" ON "webhook_events" ("created_at");

-- Finished sync runs, oldest first.
CREATE INDEX "sync_runs_started_at_idx" ON "sync_runs" ("started_at");
