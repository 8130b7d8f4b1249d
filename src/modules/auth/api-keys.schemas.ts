import { z } from 'zod';
import { booleanQuery } from '../../lib/http';

export const createApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    scope: z.enum(['admin', 'organization']),
    organizationId: z.number().int().positive().optional(),
  })
  .strict();

export const listApiKeysQuery = z
  .object({
    organizationId: z.coerce.number().int().positive().optional(),
    includeRevoked: booleanQuery.default(false),
  })
  .strict();
