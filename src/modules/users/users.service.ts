import type { UnitOfWork } from '../../db/unit-of-work';
import { AppError, uniqueIndexOf } from '../../lib/errors';
import type { OrganizationLookup } from '../auth';
import type { EventRecorder, UserEventType } from '../outbox';
import { assertOnePosition, decodeCursor, encodeCursor, listFingerprint, type ListPage } from '../../lib/list-cursor';
import { validSortValue, type UserListFilter, type UserRecord, type UserRepository, type UserWithIdentities } from './users.repository';
import type { CreateUserInput, UpdateUserInput } from './users.schemas';

/** A user write and its outbound event commit together. */
export interface UserRepositories {
  users: UserRepository;
  events: EventRecorder;
  /** Removes a user's personal data from stored payloads and its own row (src/modules/retention). */
  erasure: PersonalDataEraser;
}

export interface ListSettings {
  exactCountLimit: number;
}

/** A list request as the routes parse it; organizationId is the scope already applied. */
export type UserListQuery = Omit<UserListFilter, 'page' | 'after' | 'countLimit'> & { page?: number; cursor?: string };

export interface PersonalDataEraser {
  eraseUser(userId: number): Promise<Record<string, number>>;
  eraseOutboundEvents(userId: number): Promise<number>;
}

export class UserService {
  constructor(
    private readonly repo: UserRepository,
    private readonly uow: UnitOfWork<UserRepositories>,
    private readonly organizations: OrganizationLookup,
    /** Totals are exact up to exactCountLimit matches (LIST_EXACT_COUNT_LIMIT). */
    private readonly lists: ListSettings = { exactCountLimit: 1_000 },
  ) {}

  /**
   * A page of the list, by `page` or by `cursor`. The cursor belongs to the list it came from:
   * its scope (the organization), filters and sort are part of it, checked here.
   */
  async list(q: UserListQuery): Promise<ListPage<UserRecord>> {
    assertOnePosition(q);
    const { page, cursor, limit, sort, ...filters } = q;
    const fingerprint = listFingerprint('users', { ...filters, sort: `${sort.direction === 'desc' ? '-' : ''}${sort.field}` });
    const after = cursor === undefined ? undefined : decodeCursor(cursor, fingerprint, (v) => validSortValue(sort.field, v));
    const result = await this.repo.list({ ...filters, sort, limit, page: page ?? 1, after, countLimit: this.lists.exactCountLimit });
    return {
      rows: result.rows,
      total: result.total,
      totalExact: result.totalExact,
      nextCursor: result.next ? encodeCursor(fingerprint, result.next) : null,
    };
  }

  async get(id: number): Promise<UserWithIdentities> {
    const user = await this.repo.get(id);
    if (!user) throw AppError.notFound('User', id);
    return user;
  }

  async create(organizationId: number, input: Omit<CreateUserInput, 'organizationId'>): Promise<UserRecord> {
    if (!(await this.organizations.exists(organizationId))) throw AppError.notFound('Organization', organizationId);
    // A soft-deleted user with this email comes back, with the new values.
    const deletedId = await this.repo.findDeletedByEmail(organizationId, input.email);
    if (deletedId !== null)
      return this.write('user.updated', async (users) => {
        const revived = await users.revive(deletedId, { ...input, source: input.source ?? 'api', isActive: input.isActive ?? true });
        // Brought back by a concurrent create: this one is a duplicate.
        if (!revived) throw emailConflict(input.email);
        return revived;
      });
    if (await this.repo.emailTaken(organizationId, input.email)) throw emailConflict(input.email);
    return this.write('user.created', (users) => users.create({ ...input, organizationId, source: input.source ?? 'api' })).catch(
      (err: unknown) => {
        // Created by a concurrent request since the check.
        throw uniqueIndexOf(err) === 'users_organization_id_email_key' ? emailConflict(input.email) : err;
      },
    );
  }

  async update(user: UserRecord, input: UpdateUserInput): Promise<UserRecord> {
    if (input.email && (await this.repo.emailTaken(user.organizationId, input.email, user.id))) throw emailConflict(input.email);
    return this.write('user.updated', (users) => users.update(user.id, input)).catch((err: unknown) => {
      throw input.email && uniqueIndexOf(err) === 'users_organization_id_email_key' ? emailConflict(input.email) : err;
    });
  }

  activities(userId: number, page: number, limit: number) {
    return this.repo.activities(userId, page, limit);
  }

  async remove(id: number): Promise<void> {
    await this.write('user.deleted', async (users) => {
      const deleted = await users.softDelete(id);
      // Deleted by a concurrent request: one delete, one event.
      if (!deleted) throw AppError.notFound('User', id);
      return deleted;
    });
  }

  /** A user to erase: soft-deleted ones too (erasure is often asked for after the deletion). */
  async getForErasure(id: number) {
    const user = await this.repo.findIncludingDeleted(id);
    if (!user) throw AppError.notFound('User', id);
    return user;
  }

  /**
   * Deletes the user (unless it is deleted already) and, in the same transaction, erases its
   * personal data; outbound events last, so the user.deleted just written is erased too.
   */
  async erase(user: { id: number }): Promise<Record<string, number>> {
    return this.uow.transactional(async ({ users, events, erasure }) => {
      const erased = await erasure.eraseUser(user.id);
      // Only the request that deletes the user tells of it (erasing again, or at once, is fine).
      const deleted = await users.softDelete(user.id);
      if (deleted) await events.users(deleted.organizationId, 'user.deleted', [deleted.id]);
      return { ...erased, outboundEvents: await erasure.eraseOutboundEvents(user.id) };
    });
  }

  private write(type: UserEventType, change: (users: UserRepository) => Promise<UserRecord>): Promise<UserRecord> {
    return this.uow.transactional(async ({ users, events }) => {
      const user = await change(users);
      await events.users(user.organizationId, type, [user.id]);
      return user;
    });
  }
}

function emailConflict(email: string): AppError {
  return new AppError('conflict', 'email_taken', `A user with email ${email} already exists in this organization`, [
    { path: 'body.email', message: 'already used in this organization' },
  ]);
}
