-- One request budget per CRM account (integration) shared by every instance: the next free
-- request slot and the account's daily use as its last answer told it.
CREATE TABLE "crm_rate_budgets" (
    "integration_id" INTEGER NOT NULL,
    "next_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "daily_remaining" INTEGER,
    "daily_limit" INTEGER,
    "daily_observed_at" TIMESTAMPTZ(3),

    CONSTRAINT "crm_rate_budgets_pkey" PRIMARY KEY ("integration_id")
);

ALTER TABLE "crm_rate_budgets" ADD CONSTRAINT "crm_rate_budgets_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
