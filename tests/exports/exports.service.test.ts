import { parse } from 'node:path';
import { CrmAuthError } from '../../src/providers/connector';
import type { FileSink } from '../../src/providers/writer';
import { ExportService, type ExportRepository } from '../../src/modules/exports';
import type { IntegrationService } from '../../src/modules/integrations';
import { capturingLogger } from '../helpers/connector-harness';

/** The export service on an in-memory repository and sink: paging, progress, lease loss, shutdown. */

type Repo = ExportRepository & { runs: Map<number, Record<string, unknown>>; pages: number[]; leaseHeld: string | null };

function repo(users: number, o: { pageDelayMs?: number; renew?: () => boolean } = {}): Repo {
  const all = Array.from({ length: users }, (_, i) => ({
    id: i + 1,
    email: `u${i + 1}@example.com`,
    name: `User ${i + 1}`,
    firstName: null,
    lastName: null,
    phone: null,
    title: null,
    department: null,
    isActive: true,
    isAdmin: false,
    source: 'api',
    createdAt: new Date('2025-01-01T00:00:00Z'),
    updatedAt: new Date('2025-01-02T00:00:00Z'),
  }));
  const r: Repo = {
    runs: new Map(),
    pages: [],
    leaseHeld: null,
    organization: async (id) => ({ id, slug: 'acme', name: 'Acme' }),
    countUsers: async () => all.length,
    usersPage: async (_org, after, take) => {
      r.pages.push(after);
      if (o.pageDelayMs) await new Promise((res) => setTimeout(res, o.pageDelayMs));
      return all.filter((u) => u.id > after).slice(0, take);
    },
    acquireLease: async (_id, owner) => {
      if (r.leaseHeld) return false;
      r.leaseHeld = owner;
      return true;
    },
    renewLease: async () => (o.renew ? o.renew() : true),
    releaseLease: async (_id, owner) => {
      if (r.leaseHeld === owner) r.leaseHeld = null;
    },
    abandonStaleRuns: async () => undefined,
    scheduledRunExists: async () => false,
    createRun: async (start) => {
      const id = r.runs.size + 1;
      r.runs.set(id, { ...start, status: 'running' });
      return id;
    },
    heartbeat: async () => undefined,
    finishRun: async (id, data) => {
      r.runs.set(id, { ...r.runs.get(id), ...data });
    },
    schedules: async () => [],
  };
  return r;
}

function memorySink(o: { failFinish?: Error } = {}) {
  const state = { bytes: Buffer.alloc(0), aborted: false, name: '' };
  const sink: FileSink = {
    async begin(name) {
      state.name = name;
      return {
        append: async (chunk) => {
          state.bytes = Buffer.concat([state.bytes, chunk]);
        },
        finish: async () => {
          if (o.failFinish) throw o.failFinish;
          return { id: 'file-1', path: `/x/${name}`, bytes: state.bytes.length };
        },
        abort: async () => {
          state.aborted = true;
        },
      };
    },
  };
  return { sink, state };
}

function integrations(sink: FileSink) {
  const updates: Record<string, unknown>[] = [];
  const service = {
    getRow: async (id: number) => ({ id, organizationId: 7, provider: 'dropbox', isActive: true, status: 'active' }),
    freshFileSink: async () => sink,
    updateFields: async (_id: number, data: Record<string, unknown>) => {
      updates.push(data);
    },
  } as unknown as IntegrationService;
  return { service, updates };
}

describe('ExportService', () => {
  it('when an organization has several pages of users, then they are read in id order and the progress log has rate and ETA', async () => {
    const { capture, logger } = capturingLogger('info');
    const r = repo(2500);
    const { sink, state } = memorySink();
    const svc = new ExportService(r, integrations(sink).service, logger, { leaseSeconds: 60, providers: ['dropbox'], pageSize: 1000 });
    const { done, fileName } = await svc.start(1, { trigger: 'manual' });
    const out = await done;
    expect(out).toMatchObject({ status: 'succeeded', total: 2500, fileId: 'file-1', path: `/x/${fileName}` });
    expect(parse(fileName).name).toMatch(/^users-acme-\d{4}-\d{2}-\d{2}$/);
    expect(r.pages).toEqual([0, 1000, 2000]);
    const lines = state.bytes.toString('utf8').split('\r\n');
    expect(lines).toHaveLength(2502); // header, 2500 rows, and the empty string after the last CRLF
    expect(lines[2500]).toBe('2500,u2500@example.com,User 2500,,,,,,true,false,api,2025-01-01T00:00:00.000Z,2025-01-02T00:00:00.000Z');
    const progress = capture.entries.filter((e) => e.message === 'export progress');
    expect(progress.at(-1)).toMatchObject({ rows: 2500, expectedRows: 2500, etaSeconds: 0, rowsPerSecond: expect.any(Number) });
    expect(r.runs.get(out.runId)).toMatchObject({
      status: 'succeeded',
      total: 2500,
      details: { fileId: 'file-1', bytes: state.bytes.length },
    });
    expect(r.leaseHeld).toBeNull();
  });

  it('when the lease is lost to another instance, then the export stops, the upload is abandoned and the run fails', async () => {
    const { logger } = capturingLogger('warn');
    const r = repo(5000, { pageDelayMs: 400, renew: () => false });
    const { sink, state } = memorySink();
    const svc = new ExportService(r, integrations(sink).service, logger, { leaseSeconds: 1, providers: ['dropbox'], pageSize: 1000 });
    const out = await (await svc.start(1, { trigger: 'manual' })).done;
    expect(out.status).toBe('failed');
    expect(out.error).toMatch(/lost the lease/);
    expect(state.aborted).toBe(true);
    expect(r.pages.length).toBeLessThan(6);
  });

  it('when the service stops mid-export, then the run is interrupted and new exports are refused', async () => {
    const { logger } = capturingLogger('warn');
    const r = repo(3000, { pageDelayMs: 100 });
    const { sink, state } = memorySink();
    const svc = new ExportService(r, integrations(sink).service, logger, { leaseSeconds: 60, providers: ['dropbox'], pageSize: 1000 });
    const { done } = await svc.start(1, { trigger: 'manual' });
    await svc.stop();
    expect((await done).status).toBe('interrupted');
    expect(state.aborted).toBe(true);
    await expect(svc.start(1, { trigger: 'manual' })).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('when the storage refuses the credentials, then the run fails and the integration is marked error', async () => {
    const { logger } = capturingLogger('warn');
    const r = repo(3);
    const { sink } = memorySink({
      failFinish: new CrmAuthError('dropbox rejected the credentials (401 on POST /2/files/upload): expired'),
    });
    const ints = integrations(sink);
    const svc = new ExportService(r, ints.service, logger, { leaseSeconds: 60, providers: ['dropbox'] });
    const out = await (await svc.start(1, { trigger: 'manual' })).done;
    expect(out).toMatchObject({ status: 'failed', fileId: null });
    expect(ints.updates).toEqual([{ status: 'error', errorMessage: expect.stringMatching(/^Authentication failed: dropbox rejected/) }]);
  });

  it('when a second export of the integration starts while one runs, then 409 export_running', async () => {
    const { logger } = capturingLogger('warn');
    const r = repo(2000, { pageDelayMs: 50 });
    const { sink } = memorySink();
    const svc = new ExportService(r, integrations(sink).service, logger, { leaseSeconds: 60, providers: ['dropbox'], pageSize: 1000 });
    const first = await svc.start(1, { trigger: 'manual' });
    await expect(svc.start(1, { trigger: 'manual' })).rejects.toMatchObject({ code: 'export_running', kind: 'conflict' });
    expect((await first.done).status).toBe('succeeded');
  });
});
