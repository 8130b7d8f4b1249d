import { z } from 'zod';
import { booleanQuery, isoTime, paginationQuery, dbId, dbIdText } from '../../lib/http';
import { cursorQuery } from '../../lib/list-cursor';

const stringList = z.array(z.string().trim().min(1).max(100)).max(200);
const optionalText = (max: number) => z.string().trim().max(max).nullable().optional();

export const userWritableFields = {
  email: z
    .email()
    .max(320)
    .transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1).max(200),
  firstName: optionalText(100),
  lastName: optionalText(100),
  phone: optionalText(50),
  title: optionalText(200),
  department: optionalText(200),
  avatarUrl: z.url().max(2000).nullable().optional(),
  isActive: z.boolean().optional(),
  isAdmin: z.boolean().optional(),
  roles: stringList.optional(),
  permissions: stringList.optional(),
  source: z.string().trim().min(1).max(50).optional(),
  lastActiveAt: isoTime().nullable().optional(),
};

export const createUserBody = z.object({ organizationId: dbId.optional(), ...userWritableFields }).strict();

export const updateUserBody = z
  .object({
    ...userWritableFields,
    email: userWritableFields.email.optional(),
    name: userWritableFields.name.optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, 'at least one field is required');

const SORTABLE = ['id', 'name', 'email', 'createdAt', 'updatedAt', 'lastActiveAt', 'lastSyncedAt'] as const;
export type SortField = (typeof SORTABLE)[number];

/** `page` (offset paging, as before) or `cursor` (the `nextCursor` of the page before: keyset paging, as fast at any depth). */
export const listUsersQuery = z
  .object({
    ...paginationQuery,
    ...cursorQuery,
    search: z.string().trim().min(1).max(200).optional(),
    organizationId: dbIdText.optional(),
    isActive: booleanQuery.optional(),
    isAdmin: booleanQuery.optional(),
    source: z.string().trim().min(1).max(50).optional(),
    department: z.string().trim().min(1).max(200).optional(),
    sort: z
      .string()
      .regex(new RegExp(`^-?(${SORTABLE.join('|')})$`), `must be one of ${SORTABLE.join(', ')}, optionally prefixed with -`)
      .default('-createdAt')
      .transform((s) => ({ field: s.replace(/^-/, '') as SortField, direction: s.startsWith('-') ? ('desc' as const) : ('asc' as const) })),
  })
  .strict();

export const activitiesQuery = z.object(paginationQuery).strict();

/** DELETE /users/:id?erase=true also removes the person's data from stored payloads. */
export const deleteUserQuery = z.object({ erase: booleanQuery.default(false) }).strict();

export type CreateUserInput = z.infer<typeof createUserBody>;
export type UpdateUserInput = z.infer<typeof updateUserBody>;
export type ListUsersQuery = z.infer<typeof listUsersQuery>;
