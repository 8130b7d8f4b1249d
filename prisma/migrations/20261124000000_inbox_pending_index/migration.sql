-- The inbox claims due pending events in arrival (id) order. With only an index on
-- (status, next_attempt_at), the planner walked the primary key from the oldest event and
-- filtered: it assumes pending rows are spread evenly, but they are the newest few behind a
-- history that only grows (retention keeps the rows). Behind 300,000 processed events a claim
-- of 500 read every one of them (about 190 ms a claim; bench:inbox-queue). An index of the
-- pending ids alone is the cheapest path for the planner at any history, and an event leaves
-- it when it is processed (its update adds no entry there).
-- Building it reads the table once and holds back inserts meanwhile, as every index build in
-- these migrations does.
DROP INDEX "inbound_events_status_next_attempt_at_idx";
CREATE INDEX "inbound_events_pending_idx" ON "inbound_events" ("id") WHERE "status" = 'pending';
-- Events failed for good, newest first (the list filtered by status=failed), without reading
-- the processed ones. Rarely written.
CREATE INDEX "inbound_events_failed_idx" ON "inbound_events" ("id") WHERE "status" = 'failed';
