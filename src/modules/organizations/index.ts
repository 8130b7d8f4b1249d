// Organizations (tenants). The push names organizations by slug as this module does.
export { slugify } from './organizations.schemas';
export type { OrganizationService } from './organizations.service';
