// Users of an organization, through the API. An organization's user list is served here too.
export { listUsersQuery } from './users.schemas';
export {
  assertOnePosition,
  cursorList,
  cursorQuery,
  decodeCursor,
  encodeCursor,
  listFingerprint,
  sendListPage,
  type ListPage,
} from './cursor';
export type { UserService } from './users.service';
