import { z } from 'zod';
import { paginationQuery, dbId, dbIdText } from '../../lib/http';
import { INTEGRATION_STATUSES } from './integration-status';

const config = z.record(z.string(), z.unknown());

export const createIntegrationBody = z
  .object({
    organizationId: dbId.optional(),
    templateId: dbId.optional(),
    /** The template's name, as an alternative to templateId. */
    provider: z.string().trim().min(1).max(50).optional(),
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2000).nullable().optional(),
    config,
  })
  .strict()
  .refine((b) => b.templateId !== undefined || b.provider !== undefined, {
    message: 'templateId or provider is required',
    path: ['templateId'],
    // Also when other fields fail, so one answer lists every problem.
    when: (p) => typeof p.value === 'object' && p.value !== null,
  });

export const updateIntegrationBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(2000).nullable().optional(),
    isActive: z.boolean().optional(),
    /** Merged into the stored config; a field set to null is removed. */
    config: config.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'at least one field is required');

export const listIntegrationsQuery = z
  .object({
    ...paginationQuery,
    organizationId: dbIdText.optional(),
    status: z.enum(INTEGRATION_STATUSES).optional(),
    provider: z.string().trim().min(1).max(50).optional(),
  })
  .strict();

export type CreateIntegrationInput = z.infer<typeof createIntegrationBody>;
export type UpdateIntegrationInput = z.infer<typeof updateIntegrationBody>;
