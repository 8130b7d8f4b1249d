-- Source times more than 5 minutes past our clock, stored before the ordering guard stopped
-- trusting them (trustedSourceTime): a record stamped 2099 kept every later version of it
-- stale until 2099, and a deletion stamped so kept the record from ever coming back. They
-- become no time, as the guard now keeps them: such a record is ordered by arrival.

-- A stored text that is no time is left alone rather than failing the upgrade.
CREATE FUNCTION pg_temp.is_future(t text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RETURN t::timestamptz > now() + interval '5 minutes';
EXCEPTION WHEN others THEN
  RETURN false;
END $$;

-- The service writes these times as ISO text in UTC, which sorts as time does: the text
-- comparison keeps the function call to the few rows stamped today or later.
UPDATE "user_identities"
SET "data" = jsonb_set("data", '{sourceUpdatedAt}', 'null'::jsonb)
WHERE jsonb_typeof("data"->'sourceUpdatedAt') = 'string'
  AND "data"->>'sourceUpdatedAt' >= to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')
  AND pg_temp.is_future("data"->>'sourceUpdatedAt');

UPDATE "tombstones" SET "deleted_at" = NULL WHERE "deleted_at" > now() + interval '5 minutes';

DROP FUNCTION pg_temp.is_future(text);
