import type { Logger } from 'winston';
import { AppError } from '../../lib/errors';
import { randomToken, safeEqual, sha256Hex } from '../../lib/crypto';
import type { ApiKeyRecord, ApiKeyRepository } from './api-keys.repository';
import type { Principal } from './principal';

const KEY_PREFIX = 'crm_';
const PREFIX_LENGTH = 12;
// lastUsedAt is for people deciding which keys to revoke; minute precision avoids a
// write on every request.
const TOUCH_INTERVAL_MS = 60_000;

export interface OrganizationLookup {
  exists(id: number): Promise<boolean>;
}

export class ApiKeyService {
  private readonly lastTouched = new Map<number, number>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly organizations: OrganizationLookup,
    private readonly logger: Logger,
    private readonly envAdminKey?: string,
  ) {}

  /** Creates a key and returns it in clear text: the only time it is ever shown. */
  async create(input: {
    name: string;
    scope: 'admin' | 'organization';
    organizationId?: number;
  }): Promise<{ key: string; record: ApiKeyRecord }> {
    if (input.scope === 'organization') {
      if (input.organizationId === undefined) {
        throw new AppError('invalid_data', 'validation_failed', 'organizationId is required for an organization key', [
          { path: 'body.organizationId', message: 'required when scope is "organization"' },
        ]);
      }
      if (!(await this.organizations.exists(input.organizationId))) throw AppError.notFound('Organization', input.organizationId);
    } else if (input.organizationId !== undefined) {
      throw new AppError('invalid_data', 'validation_failed', 'An admin key belongs to no organization', [
        { path: 'body.organizationId', message: 'must be omitted when scope is "admin"' },
      ]);
    }
    const key = `${KEY_PREFIX}${randomToken(32)}`;
    const record = await this.keys.create({
      name: input.name,
      prefix: key.slice(0, PREFIX_LENGTH),
      keyHash: sha256Hex(key),
      scope: input.scope,
      organizationId: input.scope === 'organization' ? (input.organizationId ?? null) : null,
    });
    this.logger.info('api key created', { keyId: record.id, scope: record.scope, organizationId: record.organizationId });
    return { key, record };
  }

  list(organizationId: number | undefined, includeRevoked: boolean): Promise<ApiKeyRecord[]> {
    return this.keys.list({ organizationId, includeRevoked });
  }

  async revoke(id: number): Promise<ApiKeyRecord> {
    const record = await this.keys.revoke(id);
    if (!record) throw AppError.notFound('API key', id);
    this.logger.info('api key revoked', { keyId: id });
    return record;
  }

  /** Resolves a presented key to who is calling, or null. */
  async authenticate(presented: string): Promise<Principal | null> {
    if (this.envAdminKey && safeEqual(presented, this.envAdminKey)) return { kind: 'admin', keyId: null };
    // Keys are 256-bit random values, so a plain SHA-256 is enough: there is nothing to
    // brute-force that a slow hash would protect. Lookup by hash is a unique-index hit.
    const record = await this.keys.findActiveByHash(sha256Hex(presented));
    if (!record) return null;
    this.touch(record.id);
    if (record.scope === 'admin') return { kind: 'admin', keyId: record.id };
    return { kind: 'organization', keyId: record.id, organizationId: record.organizationId as number };
  }

  /**
   * At first start with no admin key anywhere (no API_KEY, none in the database), makes
   * one so a newcomer can call the API, and prints it once. Not in production, where
   * printing a secret to the logs would be wrong: there, set API_KEY or run
   * `npm run api-key:create`.
   */
  async ensureBootstrapKey(allowCreate: boolean): Promise<string | undefined> {
    if (this.envAdminKey || (await this.keys.countActiveAdmin()) > 0) return undefined;
    if (!allowCreate) {
      this.logger.warn('no admin API key exists: set API_KEY or run `npm run api-key:create -- --admin`');
      return undefined;
    }
    const { key } = await this.create({ name: 'bootstrap admin key', scope: 'admin' });
    return key;
  }

  private touch(id: number): void {
    const now = Date.now();
    if (now - (this.lastTouched.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.lastTouched.set(id, now);
    this.keys
      .touch(id, new Date(now))
      .catch((err: unknown) => this.logger.warn('could not record api key use', { keyId: id, err: String(err) }));
  }
}
