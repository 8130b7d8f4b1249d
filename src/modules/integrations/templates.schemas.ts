import { z } from 'zod';

const fields = {
  name: z
    .string()
    .trim()
    .min(1)
    .max(50)
    .regex(/^[a-z0-9_]+$/, 'must be lower-case letters, digits and underscores'),
  displayName: z.string().trim().min(1).max(100),
  category: z.string().trim().min(1).max(50),
  icon: z.string().trim().max(500).nullable(),
  description: z.string().max(5000).nullable(),
  configSchema: z.record(z.string(), z.unknown()),
  setupInstructions: z.string().max(50_000).nullable(),
  webhookUrl: z.string().max(2000).nullable(),
  apiVersion: z.string().max(50).nullable(),
  isActive: z.boolean(),
};

export const createTemplateBody = z
  .object({
    ...fields,
    icon: fields.icon.optional(),
    description: fields.description.optional(),
    setupInstructions: fields.setupInstructions.optional(),
    webhookUrl: fields.webhookUrl.optional(),
    apiVersion: fields.apiVersion.optional(),
    isActive: fields.isActive.optional(),
  })
  .strict();

export const updateTemplateBody = createTemplateBody
  .omit({ name: true })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'at least one field is required');

export type CreateTemplateInput = z.infer<typeof createTemplateBody>;
export type UpdateTemplateInput = z.infer<typeof updateTemplateBody>;
