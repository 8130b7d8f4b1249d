-- The webhook channels the service keeps open at CRMs whose channels expire (Zoho's watch
-- channels last at most a week): one per integration, with when it expires and when to act
-- on it next.
CREATE TABLE "webhook_channels" (
    "integration_id" INTEGER NOT NULL,
    "channel_id" TEXT NOT NULL,
    "notify_url" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "kept_at" TIMESTAMPTZ(3),
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_channels_pkey" PRIMARY KEY ("integration_id")
);

CREATE INDEX "webhook_channels_next_attempt_at_idx" ON "webhook_channels"("next_attempt_at");

ALTER TABLE "webhook_channels" ADD CONSTRAINT "webhook_channels_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
