-- Deletions at the source, kept after the identity is gone: an event or a page older than
-- the deletion is stale whatever the order it arrives in, and a record that comes back finds
-- its user again.

-- CreateTable
CREATE TABLE "tombstones" (
    "organization_id" INTEGER NOT NULL,
    "provider" TEXT NOT NULL,
    "external_id" TEXT NOT NULL,
    "deleted_at" TIMESTAMPTZ(3),
    "user_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tombstones_pkey" PRIMARY KEY ("organization_id","provider","external_id")
);
