import { z } from 'zod';

/** POST /api/organizations/:id/portal-links: nothing to choose yet (an empty or absent body). */
export const createPortalLinkBody = z.object({}).strict();

/** POST /api/console/sessions: the token from a portal link's fragment. */
export const openSessionBody = z
  .object({
    token: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9_-]+$/, 'must be the token of a portal link'),
  })
  .strict();
