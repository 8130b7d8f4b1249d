import { createHash } from 'node:crypto';
import type { Db, Prisma } from '../../db/prisma';
import type { BuiltInTemplate } from '../../providers/registry';

const select = {
  id: true,
  name: true,
  displayName: true,
  category: true,
  icon: true,
  description: true,
  configSchema: true,
  setupInstructions: true,
  webhookUrl: true,
  apiVersion: true,
  isActive: true,
  builtIn: true,
  createdAt: true,
  updatedAt: true,
} as const;

/** The md5 PostgreSQL's md5() gives for the same text (UTF-8). */
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

export type TemplateRecord = Prisma.IntegrationTemplateGetPayload<{ select: typeof select }>;

export interface TemplateRepository {
  list(countForOrganization?: number): Promise<(TemplateRecord & { integrationCount: number })[]>;
  get(id: number): Promise<TemplateRecord | null>;
  getByName(name: string): Promise<TemplateRecord | null>;
  create(data: Prisma.IntegrationTemplateCreateInput): Promise<TemplateRecord>;
  update(id: number, data: Prisma.IntegrationTemplateUpdateInput): Promise<TemplateRecord>;
  delete(id: number): Promise<void>;
  usage(id: number): Promise<number>;
  /** Creates the built-in templates that do not exist yet; leaves edited ones alone. */
  ensureBuiltIns(templates: BuiltInTemplate[]): Promise<number>;
}

export function createTemplateRepository(db: Db): TemplateRepository {
  return {
    async list(countForOrganization) {
      const rows = await db.integrationTemplate.findMany({
        select: {
          ...select,
          _count: { select: { integrations: countForOrganization ? { where: { organizationId: countForOrganization } } : true } },
        },
        orderBy: { name: 'asc' },
      });
      return rows.map(({ _count, ...t }) => ({ ...t, integrationCount: _count.integrations }));
    },
    get: (id) => db.integrationTemplate.findUnique({ where: { id }, select }),
    getByName: (name) => db.integrationTemplate.findUnique({ where: { name }, select }),
    create: (data) => db.integrationTemplate.create({ data, select }),
    update: (id, data) => db.integrationTemplate.update({ where: { id }, data, select }),
    async delete(id) {
      await db.integrationTemplate.delete({ where: { id } });
    },
    usage: (id) => db.integration.count({ where: { templateId: id } }),
    async ensureBuiltIns(templates) {
      const result = await db.integrationTemplate.createMany({
        data: templates.map((t) => ({
          ...t,
          configSchema: t.configSchema as Prisma.InputJsonValue,
          builtIn: true,
          setupFromCode: md5(t.setupInstructions),
        })),
        skipDuplicates: true,
      });
      // A built-in template's config schema is the code's (its connector and writer read those
      // fields: a new version adds some, such as direction and pushMapping): it follows the code
      // at every start. What else an operator edited (name, description, isActive, an edited
      // setup text) is kept.
      for (const t of templates) {
        await db.integrationTemplate.updateMany({
          where: { name: t.name, builtIn: true, NOT: { configSchema: { equals: t.configSchema as Prisma.InputJsonValue } } },
          data: { configSchema: t.configSchema as Prisma.InputJsonValue, apiVersion: t.apiVersion },
        });
        // The setup text follows the code too, unless an operator edited it: then its md5 is no
        // longer the one the service wrote, and the edit stays.
        await db.$executeRaw`
          UPDATE integration_templates
          SET setup_instructions = ${t.setupInstructions}, setup_from_code = ${md5(t.setupInstructions)}, updated_at = now()
          WHERE name = ${t.name} AND built_in AND setup_from_code = md5(setup_instructions)
            AND setup_from_code <> ${md5(t.setupInstructions)}`;
      }
      return result.count;
    },
  };
}
