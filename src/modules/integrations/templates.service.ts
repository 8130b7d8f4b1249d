import { AppError, isForeignKeyError } from '../../lib/errors';
import type { Prisma } from '../../db/prisma';
import type { ConfigValidator } from './config-schema';
import type { BuiltInTemplate } from '../../providers/registry';
import type { TemplateRecord, TemplateRepository } from './templates.repository';
import type { CreateTemplateInput, UpdateTemplateInput } from './templates.schemas';

export class TemplateService {
  constructor(
    private readonly repo: TemplateRepository,
    private readonly validator: ConfigValidator,
    private readonly builtIns: () => BuiltInTemplate[],
  ) {}

  /** The templates of every provider exist at start (created if missing, never overwritten). */
  ensureBuiltIns(): Promise<number> {
    return this.repo.ensureBuiltIns(this.builtIns());
  }

  list(countForOrganization?: number) {
    return this.repo.list(countForOrganization);
  }

  async get(id: number): Promise<TemplateRecord> {
    const t = await this.repo.get(id);
    if (!t) throw AppError.notFound('Integration template', id);
    return t;
  }

  async getByName(name: string): Promise<TemplateRecord> {
    const t = await this.repo.getByName(name);
    if (!t) throw new AppError('not_found', 'integration_template_not_found', `No integration template named ${name}`);
    return t;
  }

  async create(input: CreateTemplateInput): Promise<TemplateRecord> {
    this.checkSchema(input.configSchema);
    if (await this.repo.getByName(input.name)) {
      throw new AppError('conflict', 'template_name_taken', `A template named ${input.name} already exists`);
    }
    return this.repo.create({ ...input, configSchema: input.configSchema as Prisma.InputJsonValue });
  }

  async update(id: number, input: UpdateTemplateInput): Promise<TemplateRecord> {
    await this.get(id);
    if (input.configSchema) this.checkSchema(input.configSchema);
    return this.repo.update(id, { ...input, configSchema: input.configSchema as Prisma.InputJsonValue | undefined });
  }

  async remove(id: number): Promise<void> {
    await this.get(id);
    const used = await this.repo.usage(id);
    if (used > 0) {
      throw new AppError('conflict', 'template_in_use', `Template ${id} is used by ${used} integration(s); delete those first`);
    }
    await this.repo.delete(id).catch((err: unknown) => {
      // An integration made from it since the count: the foreign key refuses the delete.
      if (isForeignKeyError(err))
        throw new AppError('conflict', 'template_in_use', `Template ${id} is used by an integration; delete it first`);
      throw err;
    });
  }

  private checkSchema(schema: unknown): void {
    const problems = this.validator.checkSchema(schema);
    if (problems.length) throw new AppError('invalid_data', 'validation_failed', 'Invalid config schema', problems);
  }
}
