import { z } from 'zod';
import { dbIdText, paginationQuery } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';

const slug = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'must be lower-case letters, digits and single hyphens');

export const organizationFields = {
  name: z.string().trim().min(1).max(200),
  slug,
  externalId: z.string().trim().min(1).max(255).nullable(),
  subdomain: z.string().trim().min(1).max(100).nullable(),
  metadata: z.record(z.string(), z.unknown()),
};

export const createOrganizationBody = z
  .object({
    name: organizationFields.name,
    slug: organizationFields.slug.optional(),
    externalId: organizationFields.externalId.optional(),
    subdomain: organizationFields.subdomain.optional(),
    metadata: organizationFields.metadata.optional(),
  })
  .strict();

export const updateOrganizationBody = z
  .object({
    name: organizationFields.name.optional(),
    slug: organizationFields.slug.optional(),
    externalId: organizationFields.externalId.optional(),
    subdomain: organizationFields.subdomain.optional(),
    metadata: organizationFields.metadata.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'at least one field is required');

/** `page` or `cursor` (the `nextCursor` of the page before), by id. */
/** `ids=3,7,12`: only these organizations (up to 100), e.g. to name the ones a page shows. */
const idList = z
  .string()
  .max(1_200)
  .transform((v): unknown[] => v.split(','))
  .pipe(z.array(dbIdText).min(1).max(100, 'must name at most 100 ids'));

export const listOrganizationsQuery = z
  .object({ ...paginationQuery, ...cursorQuery, search: z.string().trim().max(200).optional(), ids: idList.optional() })
  .strict();

export type CreateOrganizationInput = z.infer<typeof createOrganizationBody>;
export type UpdateOrganizationInput = z.infer<typeof updateOrganizationBody>;

/** "Acme Co., Ltd." → "acme-co-ltd" */
export function slugify(text: string): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/g, '');
  return s || 'org';
}
