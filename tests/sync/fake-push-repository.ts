import type { IdentityDoc, PushRepository, SyncRunInput, TenantInput, UserDoc } from '../../src/modules/sync/push.repository';

/** In-memory stand-in for the push SQL, for unit tests of PushService's own logic. */
export class FakePushRepository implements PushRepository {
  users = new Map<string, UserDoc & { id: number }>();
  identities = new Map<string, number>();
  runs: SyncRunInput[] = [];
  /** Outbound events the service asked for: [type, user ids or data]. */
  recorded: [string, unknown][] = [];
  readonly events = {
    users: async (_org: number, type: string, ids: Iterable<number>) => {
      const list = [...ids];
      if (list.length) this.recorded.push([type, list]);
      return list.length;
    },
    record: async (_org: number, type: string, data: Record<string, unknown>) => {
      this.recorded.push([type, data]);
      return 1;
    },
  };
  organization: { id: number; deleted: boolean } = { id: 1, deleted: false };
  calls = 0;
  private nextId = 1;

  async lockOrganization(_t: TenantInput) {
    this.calls++;
    return this.organization;
  }
  async slugTakenByOther() {
    return false;
  }
  async insertNew(_org: number, _source: string, docs: UserDoc[]) {
    this.calls++;
    const created = new Map<string, number>();
    for (const d of docs) {
      if (this.users.has(d.email)) continue;
      const id = this.nextId++;
      this.users.set(d.email, { ...d, id });
      created.set(d.email, id);
    }
    return created;
  }
  async updateChanged(_org: number, docs: UserDoc[]) {
    this.calls++;
    const changed = new Map<string, number>();
    for (const d of docs) {
      const u = this.users.get(d.email);
      if (!u) continue;
      const merged = { ...u, ...d };
      if (JSON.stringify(merged) !== JSON.stringify(u)) {
        this.users.set(d.email, merged);
        changed.set(d.email, u.id);
      }
    }
    return changed;
  }
  async idsByEmail(_org: number, emails: string[]) {
    this.calls++;
    return new Map(emails.map((e) => [e, (this.users.get(e) as { id: number }).id]));
  }
  async upsertIdentities(_org: number, docs: IdentityDoc[]) {
    this.calls++;
    const moved = new Set<number>();
    for (const d of docs) {
      const key = `${d.provider}:${d.externalId}`;
      if (this.identities.get(key) !== d.userId) moved.add(d.userId);
      this.identities.set(key, d.userId);
    }
    return moved;
  }
  async recordRun(run: SyncRunInput) {
    this.runs.push(run);
    return this.runs.length;
  }
}
