import { z } from 'zod';
import { booleanQuery, dbId, dbIdText } from '../../lib/http';

/** Seed 003 names providers in upper case (SALESFORCE, GOOGLE_DRIVE); ours are lower case. */
export const providerName = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a provider name such as hubspot or SALESFORCE')
  .transform((v) => v.toLowerCase());

export const connectBody = z
  .object({
    provider: providerName,
    /** The integration's config (seed 003 calls it credentials): checked against the provider's template. */
    credentials: z.record(z.string(), z.unknown()),
    /** Required with an admin key. */
    organizationId: dbId.optional(),
    name: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export const providerParams = z.object({ provider: providerName }).strict();

export const providerQuery = z
  .object({
    /** Required with an admin key. */
    organizationId: dbIdText.optional(),
  })
  .strict();

export const providerSyncQuery = providerQuery.extend({
  /** true: answer when the run ends, with the contacts it synced (seed 003's answer). */
  wait: booleanQuery.default(false),
  mode: z.enum(['full', 'incremental']).default('full'),
});
