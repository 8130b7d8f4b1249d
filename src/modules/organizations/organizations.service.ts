import { AppError, uniqueIndexOf } from '../../lib/errors';
import type { Prisma } from '../../db/prisma';
import type { UnitOfWork } from '../../db/unit-of-work';
import type { EventRecorder } from '../outbox';
import { assertOnePosition, decodeCursor, encodeCursor, listFingerprint, type ListPage } from '../../lib/list-cursor';
import type { OrganizationRecord, OrganizationRepository, OrganizationStats } from './organizations.repository';
import { slugify, type CreateOrganizationInput, type UpdateOrganizationInput } from './organizations.schemas';

/** What an organization's multi-statement writes go through, in one transaction. */
export interface OrganizationRepositories {
  organizations: OrganizationRepository;
  events: EventRecorder;
}

export class OrganizationService {
  constructor(
    private readonly repo: OrganizationRepository,
    private readonly uow: UnitOfWork<OrganizationRepositories>,
    /** Totals are exact up to exactCountLimit organizations (LIST_EXACT_COUNT_LIMIT). */
    private readonly lists: { exactCountLimit: number } = { exactCountLimit: 1_000 },
  ) {}

  /** A page of organizations, by `page` or by `cursor` (bound to the search and the key's scope). */
  async list(q: {
    search?: string;
    onlyId?: number;
    ids?: number[];
    page?: number;
    cursor?: string;
    limit: number;
  }): Promise<ListPage<OrganizationRecord>> {
    assertOnePosition(q);
    const fingerprint = listFingerprint('organizations', { search: q.search, onlyId: q.onlyId, ids: q.ids?.join(',') });
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, fingerprint, (v) => v === null);
    const result = await this.repo.list({
      search: q.search,
      onlyId: q.onlyId,
      ids: q.ids,
      limit: q.limit,
      page: q.page ?? 1,
      afterId: after?.id,
      countLimit: this.lists.exactCountLimit,
    });
    return {
      rows: result.rows,
      total: result.total,
      totalExact: result.totalExact,
      nextCursor: result.nextAfterId === null ? null : encodeCursor(fingerprint, { value: null, id: result.nextAfterId }),
    };
  }

  async get(id: number): Promise<OrganizationRecord> {
    const org = await this.repo.get(id);
    if (!org) throw AppError.notFound('Organization', id);
    return org;
  }

  findBySlug(slug: string): Promise<OrganizationRecord | null> {
    return this.repo.findBySlug(slug);
  }

  exists(id: number): Promise<boolean> {
    return this.repo.exists(id);
  }

  /**
   * A slug the caller gave must be free; one derived from the subdomain or name is made free
   * with a number ("acme-2"), since the caller never chose it.
   */
  async create(input: CreateOrganizationInput): Promise<OrganizationRecord> {
    const base = input.slug ?? slugify(input.subdomain ?? input.name);
    for (let n = 1; ; n++) {
      const slug = n === 1 ? base : `${base.slice(0, 80 - String(n).length - 1)}-${n}`;
      if (await this.repo.slugTaken(slug)) {
        if (input.slug === undefined && n < 50) continue;
        throw slugTaken(slug);
      }
      try {
        return await this.repo.create({ ...input, slug, metadata: input.metadata as Prisma.InputJsonValue | undefined });
      } catch (err) {
        // Taken since the check (a concurrent create): a derived slug tries the next number.
        if (uniqueIndexOf(err) === 'organizations_slug_key' && input.slug === undefined && n < 50) continue;
        throw uniqueConflict(err, slug);
      }
    }
  }

  async update(id: number, input: UpdateOrganizationInput): Promise<OrganizationRecord> {
    await this.get(id);
    if (input.slug && (await this.repo.slugTaken(input.slug, id))) throw slugTaken(input.slug);
    return this.uow
      .transactional(async ({ organizations, events }) => {
        const org = await organizations.update(id, { ...input, metadata: input.metadata as Prisma.InputJsonValue | undefined });
        await events.record(id, 'organization.updated', org as unknown as Record<string, unknown>);
        return org;
      })
      .catch((err: unknown) => {
        throw uniqueConflict(err, input.slug ?? '');
      });
  }

  async remove(id: number): Promise<void> {
    await this.get(id);
    await this.uow.transactional(({ organizations }) => organizations.softDelete(id));
  }

  async stats(id: number): Promise<OrganizationStats> {
    await this.get(id);
    return this.repo.stats(id);
  }
}

function slugTaken(slug: string): AppError {
  return new AppError('conflict', 'slug_taken', `Slug "${slug}" is already used by another organization`, [
    { path: 'body.slug', message: 'already taken' },
  ]);
}

/** A unique index the write ran into, as the field the caller sent; other errors as they are. */
function uniqueConflict(err: unknown, slug: string): unknown {
  const index = uniqueIndexOf(err);
  if (index === 'organizations_slug_key') return slugTaken(slug);
  if (index === 'organizations_external_id_key')
    return new AppError('conflict', 'external_id_taken', 'This external id is already used by another organization', [
      { path: 'body.externalId', message: 'already taken' },
    ]);
  return err;
}
