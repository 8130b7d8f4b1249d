-- The delivery claim takes turns across subscriptions (at most WEBHOOK_MAX_IN_FLIGHT_PER_SUBSCRIPTION
-- each in flight): it walks the subscriptions with pending deliveries one index probe each and
-- reads each one's oldest due rows, so a subscription's backlog is never scanned. This index
-- serves both; the former (status, next_attempt_at) one served only the old oldest-first claim.
DROP INDEX "webhook_deliveries_status_next_attempt_at_idx";

CREATE INDEX "webhook_deliveries_status_subscription_id_next_attempt_at_idx" ON "webhook_deliveries"("status", "subscription_id", "next_attempt_at");
