import type { Db } from '../../db/prisma';

export interface ApiKeyRecord {
  id: number;
  name: string;
  prefix: string;
  scope: string;
  organizationId: number | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

export interface ApiKeyRepository {
  create(input: { name: string; prefix: string; keyHash: string; scope: string; organizationId: number | null }): Promise<ApiKeyRecord>;
  findActiveByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  list(filter: { organizationId?: number; includeRevoked: boolean }): Promise<ApiKeyRecord[]>;
  revoke(id: number): Promise<ApiKeyRecord | null>;
  touch(id: number, at: Date): Promise<void>;
  countActiveAdmin(): Promise<number>;
}

const select = {
  id: true,
  name: true,
  prefix: true,
  scope: true,
  organizationId: true,
  lastUsedAt: true,
  revokedAt: true,
  createdAt: true,
} as const;

export function createApiKeyRepository(db: Db): ApiKeyRepository {
  return {
    create: (input) => db.apiKey.create({ data: input, select }),
    findActiveByHash: (keyHash) =>
      db.apiKey.findFirst({
        where: { keyHash, revokedAt: null, OR: [{ organizationId: null }, { organization: { deletedAt: null } }] },
        select,
      }),
    list: ({ organizationId, includeRevoked }) =>
      db.apiKey.findMany({
        where: { ...(organizationId !== undefined ? { organizationId } : {}), ...(includeRevoked ? {} : { revokedAt: null }) },
        orderBy: { id: 'asc' },
        select,
      }),
    async revoke(id) {
      const found = await db.apiKey.findUnique({ where: { id }, select });
      if (!found) return null;
      if (found.revokedAt) return found;
      return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() }, select });
    },
    async touch(id, at) {
      await db.apiKey.update({ where: { id }, data: { lastUsedAt: at } });
    },
    countActiveAdmin: () => db.apiKey.count({ where: { scope: 'admin', revokedAt: null } }),
  };
}
