import { z } from 'zod';
import { isoTime } from '../../lib/http';

const headerToken = z
  .string({ error: 'is required' })
  .trim()
  .min(1, 'is required')
  .max(100)
  .regex(/^[A-Za-z0-9._:-]+$/, 'must be letters, digits, dot, colon, underscore or hyphen');

export const pushHeaders = z.object({
  'x-tenant-id': headerToken,
  'x-sync-source': headerToken.transform((s) => s.toLowerCase()),
});

/** The envelope (seed 001). Users are checked one by one, so one bad user fails alone. */
export const pushBody = z.object({
  operation: z.string().trim().min(1).max(50),
  tenant: z.object({
    id: z.string().trim().min(1).max(255),
    name: z.string().trim().min(1).max(200),
    subdomain: z.string().trim().min(1).max(100).nullish(),
    kindeOrgId: z.string().trim().min(1).max(255).nullish(),
  }),
  users: z.array(z.unknown()),
  metadata: z
    .object({
      syncTime: isoTime().optional(),
      syncedBy: z.string().max(200).optional(),
      syncType: z.string().max(50).optional(),
      applicationCode: z.string().max(50).optional(),
    })
    .loose()
    .optional(),
});

const optionalText = (max: number) => z.string().trim().max(max).nullable().optional();
const stringList = z.array(z.string().trim().min(1).max(100)).max(200);

/** One pushed user. Unknown fields (allowedApplications, subscriptionTier, ...) are kept on the identity. */
export const pushUser = z
  .object({
    id: z.string().trim().min(1).max(255).optional(),
    kindeUserId: z.string().trim().min(1).max(255).nullish(),
    email: z
      .email()
      .max(320)
      .transform((e) => e.toLowerCase()),
    name: z.string().trim().min(1).max(200),
    avatar: z.url().max(2000).nullable().optional(),
    isActive: z.boolean().optional(),
    isAdmin: z.boolean().optional(),
    department: optionalText(200),
    title: optionalText(200),
    lastActiveAt: isoTime().nullable().optional(),
    roles: stringList.optional(),
    permissions: stringList.optional(),
    allowedApplications: stringList.optional(),
    subscriptionTier: z.string().max(100).nullable().optional(),
  })
  .loose();

export type PushBody = z.infer<typeof pushBody>;
export type PushUser = z.infer<typeof pushUser>;

export type PushStatus = 'created' | 'updated' | 'unchanged' | 'failed';

export interface PushResult {
  userId: string | null;
  email: string | null;
  status: PushStatus;
  crmUserId: number | null;
  message: string;
  error?: string;
}
