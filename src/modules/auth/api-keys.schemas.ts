import { z } from 'zod';
import { booleanQuery, dbId, dbIdText } from '../../lib/http';

export const createApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    scope: z.enum(['admin', 'organization']),
    organizationId: dbId.optional(),
  })
  .strict();

export const listApiKeysQuery = z
  .object({
    organizationId: dbIdText.optional(),
    includeRevoked: booleanQuery.default(false),
  })
  .strict();
