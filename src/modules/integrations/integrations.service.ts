import type { Logger } from 'winston';
import type { Prisma } from '../../db/prisma';
import type { UnitOfWork } from '../../db/unit-of-work';
import { AppError } from '../../lib/errors';
import { isSealed, mask, type SealedValue, type SecretBox } from '../../lib/secret-box';
import type { OrganizationLookup } from '../auth';
import type { EventRecorder } from '../outbox';
import { isSecretName, readOnlyFields, secretFields, urlFields, type ConfigValidator } from './config-schema';
import { assertAllowedUrl } from '../../lib/url-guard';
import { CrmAuthError, CrmBudgetError, type CrmConnector } from '../../providers/connector';
import type { ConnectorBinding, ConnectorFactory, WriterFactory } from '../../providers/registry';
import type { CrmWriter, FileSink } from '../../providers/writer';
import type { WebhookChannelKeeper } from '../../providers/provider';
import { assertTransition, type IntegrationStatus } from './integration-status';
import type { IntegrationFilter, IntegrationRepository, IntegrationRow } from './integrations.repository';
import type { CreateIntegrationInput, UpdateIntegrationInput } from './integrations.schemas';
import type { TemplateRecord } from './templates.repository';
import type { TemplateService } from './templates.service';

/** What the API shows of an integration: secrets masked, never decrypted into a response. */
export type IntegrationView = Omit<IntegrationRow, 'secrets' | 'config'> & { config: Record<string, unknown> };

/**
 * Things another module keeps for an integration. `created` may return config to store (an
 * id) and values the create answer shows once (a signing secret); when it throws, the
 * integration is deleted again and the error answered: no half-made integration stays.
 */
export interface IntegrationLifecycle {
  created(
    row: IntegrationRow,
    config: Record<string, unknown>,
  ): Promise<{ config?: Record<string, unknown>; reveal?: Record<string, unknown> } | void>;
  /** Throws the 4xx an update to `config` would meet, before anything is written. */
  checkUpdate?(row: IntegrationRow, config: Record<string, unknown>): Promise<void>;
  updated(row: IntegrationRow, config: Record<string, unknown>): Promise<void>;
  removing(row: IntegrationRow, config: Record<string, unknown>): Promise<void>;
}

export interface TestResult {
  success: boolean;
  message: string;
  data: Record<string, unknown> | null;
}

type Config = Record<string, unknown>;

/** What a status change writes through, in one transaction. */
export interface IntegrationRepositories {
  integrations: IntegrationRepository;
  events: EventRecorder;
}

export class IntegrationService {
  constructor(
    private readonly repo: IntegrationRepository,
    private readonly uow: UnitOfWork<IntegrationRepositories>,
    private readonly templates: TemplateService,
    private readonly organizations: OrganizationLookup,
    private readonly validator: ConfigValidator,
    private readonly box: SecretBox,
    private readonly connectorFor: ConnectorFactory,
    private readonly logger: Logger,
    private readonly opts: {
      allowPrivateUrls: boolean;
      /** The config field naming the CRM account in its webhooks (the routing key), by provider. */
      routingKeyField: (provider: string) => string | null;
      /**
       * Refreshes an OAuth integration's access token when it is about to expire (the token
       * manager, given by the composition root); true when it wrote a new one.
       */
      freshenToken?: (integrationId: number) => Promise<boolean>;
      /** After a 401: refreshes an OAuth integration's token now; its new access token, or null. */
      reauthorize?: (integrationId: number) => Promise<string | null>;
      /** The providers' write halves (pushes, exports). */
      writers?: WriterFactory;
      /** What else lives and dies with an integration (Zapier's webhook subscription); given by the composition root. */
      lifecycle?: IntegrationLifecycle;
    },
  ) {}

  async list(f: IntegrationFilter): Promise<{ rows: IntegrationView[]; total: number }> {
    const { rows, total } = await this.repo.list(f);
    return { rows: rows.map((r) => this.view(r)), total };
  }

  activeIds(organizationId?: number): Promise<number[]> {
    return this.repo.activeIds(organizationId);
  }

  async getRow(id: number): Promise<IntegrationRow> {
    const row = await this.repo.get(id);
    if (!row) throw AppError.notFound('Integration', id);
    return row;
  }

  /** The integration, or null (inbound webhooks name integrations the sender chose). */
  find(id: number): Promise<IntegrationRow | null> {
    return this.repo.get(id);
  }

  /** The provider's integration in seed 000's default organization, if any. */
  defaultOf(provider: string): Promise<IntegrationRow | null> {
    return this.repo.defaultOf(provider);
  }

  /** Live integrations whose CRM account id (routing key) is `key`. */
  byRoutingKey(key: string, provider?: string): Promise<IntegrationRow[]> {
    return this.repo.byRoutingKey(key, provider);
  }

  async get(id: number): Promise<IntegrationView> {
    return this.view(await this.getRow(id));
  }

  async create(
    organizationId: number,
    input: Omit<CreateIntegrationInput, 'organizationId'>,
  ): Promise<IntegrationView & { revealedOnce?: Record<string, unknown> }> {
    if (!(await this.organizations.exists(organizationId))) throw AppError.notFound('Organization', organizationId);
    const template =
      input.templateId !== undefined
        ? await this.templates.get(input.templateId)
        : await this.templates.getByName(input.provider as string);
    if (!template.isActive) throw new AppError('conflict', 'template_inactive', `Template ${template.name} is not active`);
    this.assertWritable(template, {}, input.config);
    const config = await this.validate(template, input.config);
    const routingKey = this.routingKeyOf(template.name, config);
    const unique = { organizationId, provider: template.name, routingKey };
    await this.assertUnique(unique);
    const stored = this.seal(template, config);
    const row = await this.uniquely(unique, () =>
      this.repo.create({
        organizationId,
        templateId: template.id,
        provider: template.name,
        name: input.name,
        description: input.description ?? null,
        routingKey,
        ...stored,
      }),
    );
    this.logger.info('integration created', { integrationId: row.id, organizationId, provider: row.provider });
    if (!this.opts.lifecycle) return this.view(row);
    let extra: Awaited<ReturnType<IntegrationLifecycle['created']>>;
    try {
      extra = await this.opts.lifecycle.created(row, config);
    } catch (err) {
      await this.repo.delete(row.id);
      throw err;
    }
    const view = extra?.config ? await this.update(row.id, { config: extra.config }, { byService: true }) : this.view(row);
    return extra?.reveal ? { ...view, revealedOnce: extra.reveal } : view;
  }

  /**
   * A config change is merged into what is stored and written only if nobody wrote the row
   * in between (else merged again), so two concurrent changes both hold. Fields the service
   * sets (readOnly) are the service's alone (`byService`).
   */
  async update(id: number, input: UpdateIntegrationInput, opts: { byService?: boolean } = {}): Promise<IntegrationView> {
    for (let attempt = 1; ; attempt++) {
      const row = await this.getRow(id);
      const data: Prisma.IntegrationUncheckedUpdateInput = {};
      if (input.name !== undefined) data.name = input.name;
      if (input.description !== undefined) data.description = input.description;
      if (input.isActive !== undefined) data.isActive = input.isActive;
      if (input.config) {
        const template = await this.templates.get(row.templateId);
        const stored = this.decrypt(row);
        if (!opts.byService) this.assertWritable(template, stored, input.config);
        // Merge into what is stored (secrets included), then validate the whole.
        const merged: Config = { ...stored };
        for (const [k, v] of Object.entries(input.config)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        const config = await this.validate(template, merged);
        data.routingKey = this.routingKeyOf(row.provider, config);
        await this.assertUnique({ organizationId: row.organizationId, provider: row.provider, routingKey: data.routingKey, exceptId: id });
        // What else the integration owns must take the change too: refused before anything is written.
        await this.opts.lifecycle?.checkUpdate?.(row, config);
        Object.assign(data, this.seal(template, config));
      }
      const unique = {
        organizationId: row.organizationId,
        provider: row.provider,
        routingKey: (data.routingKey as string | null | undefined) ?? row.routingKey,
        exceptId: id,
      };
      const updated = await this.uniquely(unique, () =>
        input.config ? this.repo.updateIf(id, row.updatedAt, data) : this.updateFields(id, data),
      );
      if (!updated) {
        if (attempt < 5) continue;
        throw new AppError('conflict', 'integration_changed', `Integration ${id} kept changing while this change was merged; try again`);
      }
      if (input.config && this.opts.lifecycle) await this.opts.lifecycle.updated(updated, this.decrypt(updated));
      return this.view(updated);
    }
  }

  /** Throws the 400 an update to this whole config would get (its schema, the URL guard); writes nothing. */
  async checkConfig(row: IntegrationRow, config: Config): Promise<void> {
    await this.validate(await this.templates.get(row.templateId), config);
  }

  /** A caller may send a field the service sets (readOnly) only with the value stored. */
  private assertWritable(template: TemplateRecord, stored: Config, input: Config): void {
    const refused = readOnlyFields(template.configSchema as Config).filter(
      (k) => k in input && JSON.stringify(input[k]) !== JSON.stringify(stored[k]),
    );
    if (refused.length)
      throw new AppError(
        'invalid_data',
        'validation_failed',
        `Config does not match the ${template.name} template`,
        refused.map((k) => ({ path: `body.config.${k}`, message: 'is set by the service and cannot be changed' })),
      );
  }

  async remove(id: number): Promise<void> {
    const row = await this.getRow(id);
    if (await this.repo.isSyncing(id))
      throw new AppError('conflict', 'sync_running', `Integration ${id} is syncing; try again when it is done`);
    await this.opts.lifecycle?.removing(row, this.decrypt(row));
    await this.repo.delete(id);
  }

  /** A real, cheap call through the connector; updates the status. */
  async test(id: number): Promise<TestResult> {
    const row = await this.getRow(id);
    if (row.status === 'disconnected') {
      throw new AppError(
        'conflict',
        'integration_disconnected',
        'This integration is disconnected; reconnect it (POST /:id/reconnect) to test it again',
      );
    }
    const result = await this.tryConnection(row);
    // A test not made because the CRM's daily quota is at its reserve says nothing of the
    // connection: the status stays as it is.
    if (result.notTested) return { success: false, message: result.message, data: null };
    const next: IntegrationStatus = result.success ? 'active' : 'error';
    assertTransition(row.status as IntegrationStatus, next);
    await this.updateFields(id, { status: next, errorMessage: result.success ? null : result.message, lastTestedAt: new Date() });
    return result;
  }

  async disconnect(id: number): Promise<IntegrationView> {
    const row = await this.getRow(id);
    assertTransition(row.status as IntegrationStatus, 'disconnected', 'only an active integration can be disconnected');
    return this.view(await this.updateFields(id, { status: 'disconnected', errorMessage: null }));
  }

  /** disconnected → active, after a passing test; a failing test leaves it disconnected. */
  async reconnect(id: number): Promise<TestResult> {
    const row = await this.getRow(id);
    if (row.status !== 'disconnected') {
      throw new AppError(
        'conflict',
        'illegal_status_transition',
        `Only a disconnected integration can be reconnected; this one is ${row.status}`,
      );
    }
    const result = await this.tryConnection(row);
    if (result.notTested) return { success: false, message: result.message, data: null };
    await this.updateFields(id, {
      ...(result.success ? { status: 'active' } : {}),
      errorMessage: result.success ? null : result.message,
      lastTestedAt: new Date(),
    });
    return result;
  }

  /** Re-seals every secret not sealed with the current key. */
  async reEncrypt(): Promise<{ integrations: number; secrets: number }> {
    let integrations = 0;
    let secrets = 0;
    for (let after = 0; ;) {
      const page = await this.repo.secretsPage(after, 200);
      if (page.length === 0) return { integrations, secrets };
      for (const { id, secrets: stored } of page) {
        after = id;
        const entries = Object.entries((stored ?? {}) as unknown as Record<string, SealedValue>);
        const stale = entries.filter(([, v]) => isSealed(v) && v.kid !== this.box.currentKid);
        if (stale.length === 0) continue;
        const next = Object.fromEntries(
          entries.map(([k, v]) => [k, isSealed(v) && v.kid !== this.box.currentKid ? this.box.seal(this.box.open(v)) : v]),
        );
        await this.updateFields(id, { secrets: next as unknown as Prisma.InputJsonValue });
        integrations++;
        secrets += stale.length;
      }
    }
  }

  /**
   * Writes fields as given (callers validate): a change of status writes
   * integration.status_changed in the same transaction, and the row lock orders concurrent
   * changes, so each event has the right `from`.
   */
  updateFields(id: number, data: Prisma.IntegrationUncheckedUpdateInput): Promise<IntegrationRow> {
    if (data.status === undefined) return this.repo.update(id, data);
    return this.uow.transactional(async ({ integrations, events }) => {
      const before = await integrations.lockStatus(id);
      const row = await integrations.update(id, data);
      if (before !== null && before !== row.status) {
        await events.record(row.organizationId, 'integration.status_changed', {
          integrationId: row.id,
          organizationId: row.organizationId,
          provider: row.provider,
          name: row.name,
          from: before,
          to: row.status,
          errorMessage: row.errorMessage,
        });
      }
      return row;
    });
  }

  /** The whole config, secrets decrypted: only for connectors, never for responses or logs. */
  decrypt(row: Pick<IntegrationRow, 'config' | 'secrets'>): Config {
    const out: Config = { ...((row.config ?? {}) as Config) };
    for (const [k, v] of Object.entries((row.secrets ?? {}) as Record<string, unknown>)) {
      if (isSealed(v)) out[k] = this.box.open(v);
    }
    return out;
  }

  connector(row: IntegrationRow): CrmConnector {
    const connector = this.connectorFor(row.provider, this.decrypt(row), this.binding(row));
    if (!connector) throw new AppError('conflict', 'no_connector', `No connector exists yet for provider ${row.provider}`);
    return connector;
  }

  /** The provider's write half with a current access token; 409 when it takes no pushes. */
  async freshWriter(row: IntegrationRow): Promise<CrmWriter> {
    row = await this.freshened(row);
    const writer = this.opts.writers?.writer(row.provider, this.decrypt(row), this.binding(row));
    if (!writer) throw new AppError('conflict', 'push_not_supported', `${row.provider} takes no pushed users`);
    return writer;
  }

  /** Where exports of this integration are written, with a current access token; 409 when it stores no files. */
  async freshFileSink(row: IntegrationRow): Promise<FileSink> {
    row = await this.freshened(row);
    const sink = this.opts.writers?.fileSink(row.provider, this.decrypt(row), this.binding(row));
    if (!sink) throw new AppError('conflict', 'export_not_supported', `${row.provider} stores no exported files`);
    return sink;
  }

  /** What keeps this integration's webhook channel open, with a current access token; null when its CRM needs none. */
  async freshChannelKeeper(row: IntegrationRow): Promise<WebhookChannelKeeper | null> {
    row = await this.freshened(row);
    return this.opts.writers?.channelKeeper(row.provider, this.decrypt(row), this.binding(row)) ?? null;
  }

  /**
   * What the CRM tells a connector or writer to keep (a refreshed token, a learned account id)
   * is written back through the same path as an API update: validated, secrets sealed.
   */
  private binding(row: IntegrationRow): ConnectorBinding {
    return {
      integrationId: row.id,
      saveConfig: async (changes) => {
        await this.update(row.id, { config: changes });
      },
      reauthorize: async () => (this.opts.reauthorize ? this.opts.reauthorize(row.id) : null),
    };
  }

  private async freshened(row: IntegrationRow): Promise<IntegrationRow> {
    return this.opts.freshenToken && (await this.opts.freshenToken(row.id)) ? this.getRow(row.id) : row;
  }

  view(row: IntegrationRow): IntegrationView {
    const { secrets, config, ...rest } = row;
    // Stored before its name made it secret (it is sealed at its next update), or nested in
    // an object of a template made before nested secrets were refused: never shown.
    const masked = maskSecretNamed((config ?? {}) as Config) as Config;
    for (const [k, v] of Object.entries((secrets ?? {}) as Record<string, unknown>)) {
      masked[k] = isSealed(v) ? mask(this.box.open(v)) : '••••';
    }
    return { ...rest, config: masked };
  }

  /**
   * The fields that store `value` under `field`, sealed when the field is a secret, for a
   * write inside the caller's transaction (a token refresh commits with its lock and must not
   * need a second connection while it holds it).
   */
  withField(row: Pick<IntegrationRow, 'config' | 'secrets'>, field: string, value: string): Prisma.IntegrationUncheckedUpdateInput {
    const secrets = { ...((row.secrets ?? {}) as Record<string, unknown>) };
    const config = { ...((row.config ?? {}) as Config) };
    if (isSecretName(field) || field in secrets) {
      secrets[field] = this.box.seal(value);
      delete config[field];
    } else config[field] = value;
    return { secrets: secrets as Prisma.InputJsonValue, config: config as Prisma.InputJsonValue };
  }

  /** A connector with a current access token: an OAuth token about to expire is refreshed first. */
  async freshConnector(row: IntegrationRow): Promise<CrmConnector> {
    return this.connector(await this.freshened(row));
  }

  private async tryConnection(row: IntegrationRow): Promise<TestResult & { notTested?: boolean }> {
    try {
      const connector = await this.freshConnector(row);
      const info = await connector.testConnection();
      return { success: true, message: `Connected to ${row.provider}${info.account ? ` (${info.account})` : ''}`, data: { ...info } };
    } catch (err) {
      if (err instanceof CrmBudgetError) {
        const when = err.resumeAfter ? `; try again after ${err.resumeAfter.toISOString()}` : '';
        return { success: false, notTested: true, message: `Not tested: ${err.message}${when}`, data: null };
      }
      const message =
        err instanceof CrmAuthError ? `Authentication failed: ${err.message}` : `Connection failed: ${(err as Error).message}`;
      this.logger.warn('integration test failed', { integrationId: row.id, provider: row.provider, error: message });
      return { success: false, message, data: null };
    }
  }

  private routingKeyOf(provider: string, config: Config): string | null {
    const field = this.opts.routingKeyField(provider);
    const v = field ? config[field] : undefined;
    return (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : null;
  }

  /**
   * People are linked by (organization, provider, CRM id), so two accounts of one CRM in one
   * organization would mix their ids; webhooks are routed by (provider, routing key), so two
   * integrations claiming one CRM account would take each other's events.
   */
  private async assertUnique(u: { organizationId: number; provider: string; routingKey: string | null; exceptId?: number }) {
    const clash = await this.repo.findClash(u);
    if (clash === 'organization') {
      throw new AppError('conflict', 'integration_exists', `Organization ${u.organizationId} already has a ${u.provider} integration`);
    }
    if (clash === 'routingKey') {
      throw new AppError(
        'conflict',
        'routing_key_in_use',
        `Another ${u.provider} integration already has the account id ${u.routingKey}; webhooks are routed by it, so it must be unique`,
        [{ path: 'body.config', message: `account id ${u.routingKey} is used by another integration` }],
      );
    }
  }

  /** The unique indexes close the race the check above leaves open; their violation says which. */
  private async uniquely<T>(u: Parameters<IntegrationService['assertUnique']>[0], write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'P2002') throw err;
      await this.assertUnique(u);
      throw err;
    }
  }

  private async validate(template: TemplateRecord, config: Config): Promise<Config> {
    const { value, errors } = this.validator.validate(
      `${template.id}:${template.updatedAt.getTime()}`,
      template.configSchema as Config,
      config,
    );
    if (errors.length)
      throw new AppError('invalid_data', 'validation_failed', `Config does not match the ${template.name} template`, errors);
    // Connections go to these URLs with the tenant's credentials: the SSRF guard applies.
    for (const field of urlFields(template.configSchema as Config)) {
      const url = value[field];
      if (typeof url === 'string')
        await assertAllowedUrl(url, { allowPrivateUrls: this.opts.allowPrivateUrls, path: `body.config.${field}` });
    }
    return value;
  }

  /** Splits a config into plain fields and sealed secret fields. */
  private seal(template: TemplateRecord, config: Config): { config: Prisma.InputJsonValue; secrets: Prisma.InputJsonValue } {
    const secret = new Set(secretFields(template.configSchema as Config));
    const plain: Config = {};
    const sealed: Record<string, SealedValue> = {};
    for (const [k, v] of Object.entries(config)) {
      // A field the schema does not declare (it allows additional ones) is sealed by its name.
      if (secret.has(k) || (isSecretName(k) && typeof v === 'string')) sealed[k] = this.box.seal(String(v));
      else plain[k] = v;
    }
    return { config: plain as Prisma.InputJsonValue, secrets: sealed as unknown as Prisma.InputJsonValue };
  }
}

/** A copy with every string under a secret's name masked, at any depth. */
function maskSecretNamed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecretNamed);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, isSecretName(k) && typeof v === 'string' ? mask(v) : maskSecretNamed(v)]),
  );
}
