-- Lists at a million users (issue 14): every sort the users list offers reads an index in
-- order, within an organization ((organization_id, <column>, id)) and across all of them
-- ((<column>, id)); id breaks ties. "-createdAt" within an organization already had one, and
-- "email" within an organization uses the unique (organization_id, email) index. Nullable
-- columns are read as two ranges of the same index (values, then nulls by id).
CREATE INDEX "users_organization_id_name_id_idx" ON "users"("organization_id", "name", "id");
CREATE INDEX "users_organization_id_updated_at_id_idx" ON "users"("organization_id", "updated_at", "id");
CREATE INDEX "users_organization_id_last_active_at_id_idx" ON "users"("organization_id", "last_active_at", "id");
CREATE INDEX "users_organization_id_last_synced_at_id_idx" ON "users"("organization_id", "last_synced_at", "id");
CREATE INDEX "users_name_id_idx" ON "users"("name", "id");
CREATE INDEX "users_email_id_idx" ON "users"("email", "id");
CREATE INDEX "users_created_at_id_idx" ON "users"("created_at", "id");
CREATE INDEX "users_updated_at_id_idx" ON "users"("updated_at", "id");
CREATE INDEX "users_last_active_at_id_idx" ON "users"("last_active_at", "id");
CREATE INDEX "users_last_synced_at_id_idx" ON "users"("last_synced_at", "id");

-- An organization's live users by id: sort=id within an organization, and the capped count of
-- an organization's users as an index-only scan (partial, so deleted_at needs no heap visit).
-- Prisma cannot express a partial index; the schema drift test lists it.
CREATE INDEX "users_live_organization_id_id_idx" ON "users"("organization_id", "id") WHERE "deleted_at" IS NULL;

-- The organizations search matches slugs by substring too (LIKE '%term%').
CREATE INDEX "organizations_slug_trgm_idx" ON "organizations" USING GIN ("slug" gin_trgm_ops);
