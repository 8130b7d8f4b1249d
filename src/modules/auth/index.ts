// Who is calling: routes of every module scope their reads and writes by the principal.
export type { OrganizationLookup } from './api-keys.service';
export type { Authenticator } from './auth.middleware';
export {
  assertCanSeeOrganization,
  principalOf,
  requireAdminPrincipal,
  scopeOrganization,
  targetOrganization,
  type Principal,
} from './principal';
