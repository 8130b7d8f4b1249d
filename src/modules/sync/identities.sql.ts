/**
 * Links users to their records in other systems, set-based: $1 organization id, $2 a jsonb
 * array of { userId, provider, externalId, data }. Links already exactly as stored are
 * filtered out first: ON CONFLICT DO UPDATE would lock (and so write) every conflicting row
 * even when its WHERE then skips the update. Returns the links it wrote.
 */
export const UPSERT_IDENTITIES = `
  INSERT INTO user_identities AS ui (organization_id, user_id, provider, external_id, data)
  SELECT $1, (d->>'userId')::int, d->>'provider', d->>'externalId', NULLIF(d->'data', 'null'::jsonb)
  FROM jsonb_array_elements($2::jsonb) AS i(d)
  WHERE NOT EXISTS (
    SELECT 1 FROM user_identities x
    WHERE x.organization_id = $1 AND x.provider = d->>'provider' AND x.external_id = d->>'externalId'
      AND x.user_id = (d->>'userId')::int AND x.data IS NOT DISTINCT FROM NULLIF(d->'data', 'null'::jsonb))
  ORDER BY d->>'provider', d->>'externalId'
  ON CONFLICT (organization_id, provider, external_id) DO UPDATE
    SET user_id = EXCLUDED.user_id, data = EXCLUDED.data, updated_at = now()
    WHERE (ui.user_id, ui.data) IS DISTINCT FROM (EXCLUDED.user_id, EXCLUDED.data)
  RETURNING ui.user_id, ui.provider, ui.external_id`;
