-- One integration per CRM per organization, and one integration per CRM account id
-- (webhook routing key) per provider: checks in code raced, so the database enforces both.

-- Fails with the offending rows named rather than half-applying: duplicates must be resolved
-- by hand (delete one of each pair) before this migration can run.
DO $$
DECLARE dup text;
BEGIN
  SELECT string_agg(format('organization %s has %s %s integrations', organization_id, n, provider), '; ')
  INTO dup
  FROM (SELECT organization_id, provider, count(*) AS n FROM integrations GROUP BY 1, 2 HAVING count(*) > 1) d;
  IF dup IS NOT NULL THEN
    RAISE EXCEPTION 'cannot make integrations unique per organization and provider: %', dup;
  END IF;
END $$;

-- AlterTable
ALTER TABLE "integrations" ADD COLUMN "routing_key" TEXT;

-- The routing key of live integrations, from their config; the first claimant keeps a
-- contested one (it was the one webhooks reached most often), the others lose it and are
-- logged by the service when a webhook cannot be routed.
UPDATE "integrations" i SET "routing_key" = k.key
FROM (
  SELECT DISTINCT ON (i.provider, COALESCE(i.config->>'locationId', i.config->>'portalId'))
         i.id, COALESCE(i.config->>'locationId', i.config->>'portalId') AS key
  FROM "integrations" i JOIN "organizations" o ON o.id = i.organization_id AND o.deleted_at IS NULL
  WHERE COALESCE(i.config->>'locationId', i.config->>'portalId') IS NOT NULL
  ORDER BY i.provider, COALESCE(i.config->>'locationId', i.config->>'portalId'), i.id
) k
WHERE i.id = k.id;

-- DropIndex
DROP INDEX "integrations_organization_id_provider_idx";

-- CreateIndex
CREATE UNIQUE INDEX "integrations_organization_id_provider_key" ON "integrations"("organization_id", "provider");

-- CreateIndex
CREATE UNIQUE INDEX "integrations_provider_routing_key_key" ON "integrations"("provider", "routing_key");
