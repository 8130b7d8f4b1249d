-- Reconciliation in the database (src/modules/sync): a full pull marks each identity it reads
-- with its pass (the id of the run that started the pass), in the page's own transaction, so
-- what a complete pass did not see is a query, not a set of every id held in memory, and a
-- resumed run continues the same pass. No index on it: the unseen are read once per complete
-- pass along the (organization_id, provider, external_id) key, and an unindexed column keeps
-- the marking eligible for HOT updates (no index entries written).
ALTER TABLE "user_identities" ADD COLUMN "seen_pass" INTEGER;

-- Every full pass rewrites each identity it reads (its seen_pass). HOT updates need room on
-- the row's own page: measured on 20,000 contacts and six unchanged full passes, 22% of the
-- updates were HOT at the default fillfactor (100) and the table grew to 35 MB; at 70, 85%
-- and 19 MB. Pages written from now on keep the room; packed ones get it as rows move.
-- (A storage parameter: Prisma's schema does not describe it, and its diff leaves it alone.)
ALTER TABLE "user_identities" SET (fillfactor = 70);
