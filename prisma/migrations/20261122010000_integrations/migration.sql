-- Integrations: templates describing CRMs, per-organization integrations with encrypted
-- secrets and a sync lease, and pull-sync bookkeeping on sync runs.

-- AlterTable
ALTER TABLE "sync_runs" ADD COLUMN "integration_id" INTEGER,
ADD COLUMN "pages" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "total_pages" INTEGER,
ADD COLUMN "checkpoint" JSONB,
ADD COLUMN "heartbeat_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "integration_templates" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "category" TEXT NOT NULL,
    "icon" TEXT,
    "description" TEXT,
    "config_schema" JSONB NOT NULL,
    "setup_instructions" TEXT,
    "webhook_url" TEXT,
    "api_version" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "integration_templates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "integrations" (
    "id" SERIAL NOT NULL,
    "organization_id" INTEGER NOT NULL,
    "template_id" INTEGER NOT NULL,
    "provider" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "config" JSONB NOT NULL DEFAULT '{}',
    "secrets" JSONB NOT NULL DEFAULT '{}',
    "status" TEXT NOT NULL DEFAULT 'pending',
    "error_message" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "last_sync_at" TIMESTAMPTZ(3),
    "last_tested_at" TIMESTAMPTZ(3),
    "sync_cursor" JSONB,
    "sync_lease_owner" TEXT,
    "sync_lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "integrations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "sync_runs_integration_id_started_at_idx" ON "sync_runs"("integration_id", "started_at");

-- CreateIndex
CREATE UNIQUE INDEX "integration_templates_name_key" ON "integration_templates"("name");

-- CreateIndex
CREATE INDEX "integrations_organization_id_provider_idx" ON "integrations"("organization_id", "provider");

-- CreateIndex
CREATE INDEX "integrations_status_idx" ON "integrations"("status");

-- CreateIndex
CREATE INDEX "integrations_template_id_idx" ON "integrations"("template_id");

-- AddForeignKey
ALTER TABLE "sync_runs" ADD CONSTRAINT "sync_runs_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "integrations" ADD CONSTRAINT "integrations_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "integrations" ADD CONSTRAINT "integrations_template_id_fkey" FOREIGN KEY ("template_id") REFERENCES "integration_templates"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
