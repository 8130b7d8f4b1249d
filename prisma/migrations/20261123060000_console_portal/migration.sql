-- The console's tenant portal: a link an admin hands out (single use, short-lived) and the
-- browser session it opens, both scoped to one organization. Only SHA-256 hashes are stored.
CREATE TABLE "portal_links" (
    "id" SERIAL NOT NULL,
    "organization_id" INTEGER NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "created_by_key_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "portal_links_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "portal_sessions" (
    "id" SERIAL NOT NULL,
    "organization_id" INTEGER NOT NULL,
    "link_id" INTEGER NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "portal_sessions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "portal_links_token_hash_key" ON "portal_links"("token_hash");
CREATE INDEX "portal_links_expires_at_idx" ON "portal_links"("expires_at");
CREATE UNIQUE INDEX "portal_sessions_token_hash_key" ON "portal_sessions"("token_hash");
CREATE INDEX "portal_sessions_link_id_idx" ON "portal_sessions"("link_id");
CREATE INDEX "portal_sessions_expires_at_idx" ON "portal_sessions"("expires_at");

ALTER TABLE "portal_links" ADD CONSTRAINT "portal_links_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "portal_sessions" ADD CONSTRAINT "portal_sessions_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "portal_sessions" ADD CONSTRAINT "portal_sessions_link_id_fkey" FOREIGN KEY ("link_id") REFERENCES "portal_links"("id") ON DELETE CASCADE ON UPDATE CASCADE;
