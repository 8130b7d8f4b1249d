// Writing people: users, their identities, activities, deletions and tombstones, with the
// ordering guard. The push, the pull and the inbox worker write people through this module.
export {
  createPeopleRepository,
  ECHO_FIELDS,
  seenKey,
  trustedSourceTime,
  type Activity,
  type IdentityLink,
  type PeopleRepository,
  type PeopleSource,
  type PersonOutcome,
  type Removal,
  type RemovalOutcome,
} from './people.repository';
