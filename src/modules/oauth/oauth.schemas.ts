import { z } from 'zod';
import { dbIdText } from '../../lib/http';

export const providerParams = z.object({ provider: z.string().regex(/^[a-z0-9_]{1,50}$/, 'must be a provider name') }).strict();

/** GET (redirect) or POST (JSON) .../authorize. */
export const authorizeQuery = z
  .object({
    organizationId: dbIdText.optional(),
    name: z.string().trim().min(1).max(200).optional(),
    returnTo: z.url().max(2000).optional(),
  })
  .strict();

/** What the provider sends back to .../callback (RFC 6749 4.1.2 and 4.1.2.1). */
export const callbackQuery = z
  .object({
    code: z.string().min(1).max(4000).optional(),
    state: z.string().min(1).max(500).optional(),
    error: z.string().max(200).optional(),
    error_description: z.string().max(2000).optional(),
    error_uri: z.string().max(2000).optional(),
  })
  // Providers add their own (Zoho's location, accounts-server; HighLevel's locationId).
  .loose();
