// Users of an organization, through the API. An organization's user list is served here too.
export { listUsersQuery } from './users.schemas';
export type { UserService } from './users.service';
