// The Users page: search, filters, sort and paging as GET /api/users offers them (page numbers,
// or the keyset cursor past the exact-count limit), and one user's identities and activities.
import { useState } from 'preact/hooks';
import { Badge, ErrorBox, Field, fmtAgo, fmtDate, html, Pager, Table, useAsync } from '../components.js';

const SORTS = [
  ['-createdAt', 'Newest first'],
  ['createdAt', 'Oldest first'],
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['email', 'Email A–Z'],
  ['-lastActiveAt', 'Recently active'],
  ['-lastSyncedAt', 'Recently synced'],
];
const LIMIT = 25;

function UserDetail({ api, id, onClose }) {
  const user = useAsync(() => api.get(`/users/${id}`).then((r) => r.data), [id]);
  const [page, setPage] = useState(1);
  const activities = useAsync(() => api.get(`/users/${id}/activities`, { page, limit: 10 }), [id, page]);
  const u = user.data;
  return html`<section class="panel" aria-labelledby="user-detail-title">
    <div class="row">
      <h2 id="user-detail-title">${u ? u.name : `User ${id}`}</h2>
      <span class="spacer"></span>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
    <${ErrorBox} error=${user.error} />
    ${
      u &&
      html`<dl class="small">
          <dt>Email</dt>
          <dd>${u.email ?? '–'}</dd>
          <dt>Status</dt>
          <dd><${Badge} status=${u.isActive ? 'active' : 'inactive'} />${u.isAdmin ? html` <${Badge} status="admin" />` : null}</dd>
          <dt>Organization</dt>
          <dd>#${u.organizationId}</dd>
          <dt>Department / title</dt>
          <dd>${[u.department, u.title].filter(Boolean).join(' / ') || '–'}</dd>
          <dt>Last synced</dt>
          <dd>${fmtDate(u.lastSyncedAt)}</dd>
        </dl>
        <h3>Identities in other systems</h3>
        <${Table}
          caption="Identities"
          rows=${u.identities}
          empty="Not linked to any external system."
          columns=${[
            { label: 'System', render: (i) => i.provider },
            { label: 'External id', render: (i) => html`<code>${i.externalId}</code>` },
            { label: 'Linked', render: (i) => fmtDate(i.createdAt) },
          ]}
        />`
    }
    <h3>Activities</h3>
    <${ErrorBox} error=${activities.error} />
    <${Table}
      caption="Activities"
      rows=${activities.data?.data}
      empty="No activity reported by a CRM."
      columns=${[
        { label: 'When', render: (a) => fmtDate(a.occurredAt) },
        { label: 'Type', render: (a) => a.type },
        { label: 'Integration', render: (a) => (a.integrationId ? `#${a.integrationId}` : '–') },
        { label: 'Data', render: (a) => html`<pre>${JSON.stringify(a.data, null, 2)}</pre>` },
      ]}
    />
    <${Pager} pagination=${activities.data?.pagination} onPage=${setPage} />
  </section>`;
}

export default function UsersPage({ api, orgId, isAdmin, params, navigate }) {
  const [draft, setDraft] = useState(params.search ?? '');
  const [cursorTrail, setCursorTrail] = useState([]);
  const search = params.search || undefined;
  const sort = params.sort || '-createdAt';
  const active = params.active || '';
  const page = Number(params.page || 1);
  const cursor = cursorTrail[cursorTrail.length - 1];
  const set = (changes) => {
    setCursorTrail([]);
    navigate('users', { search, sort, active, page: undefined, user: params.user, ...changes });
  };
  const list = useAsync(
    () =>
      api.get('/users', {
        organizationId: orgId,
        search,
        sort,
        isActive: active || undefined,
        limit: LIMIT,
        ...(cursor ? { cursor } : { page }),
      }),
    [orgId, search, sort, active, page, cursor],
  );
  const pagination = list.data?.pagination;
  // Past the exact-count limit the total is a lower bound: deeper pages go by cursor.
  const byCursor = pagination?.totalRelation === 'gte' || cursorTrail.length > 0;
  return html`<h1>Users</h1>
    <form
      class="panel row"
      role="search"
      onSubmit=${(e) => {
        e.preventDefault();
        set({ search: draft.trim() || undefined });
      }}
    >
      <${Field} id="user-search" label="Search name or email">
        <input id="user-search" type="search" value=${draft} onInput=${(e) => setDraft(e.target.value)} />
      </${Field}>
      <${Field} id="user-sort" label="Sort">
        <select id="user-sort" value=${sort} onChange=${(e) => set({ sort: e.target.value })}>
          ${SORTS.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
        </select>
      </${Field}>
      <${Field} id="user-active" label="Status">
        <select id="user-active" value=${active} onChange=${(e) => set({ active: e.target.value || undefined })}>
          <option value="">Any</option>
          <option value="true">Active</option>
          <option value="false">Inactive</option>
        </select>
      </${Field}>
      <button type="submit" class="primary">Search</button>
    </form>
    ${params.user && html`<${UserDetail} api=${api} id=${params.user} onClose=${() => navigate('users', { ...params, user: undefined })} />`}
    <${ErrorBox} error=${list.error} />
    <${Table}
      caption="Users"
      rows=${list.data?.data}
      empty=${list.loading ? 'Loading…' : 'No users match.'}
      columns=${[
        {
          label: 'Name',
          render: (u) => html`<a href=${`#/users?${new URLSearchParams({ ...params, user: String(u.id) })}`}>${u.name}</a>`,
        },
        { label: 'Email', render: (u) => u.email ?? '–' },
        ...(isAdmin && !orgId ? [{ label: 'Organization', render: (u) => `#${u.organizationId}` }] : []),
        { label: 'Status', render: (u) => html`<${Badge} status=${u.isActive ? 'active' : 'inactive'} />` },
        { label: 'Source', render: (u) => u.source ?? '–' },
        { label: 'Last synced', render: (u) => fmtAgo(u.lastSyncedAt) },
      ]}
    />
    ${
      byCursor
        ? html`<nav class="row small" aria-label="Pages">
            <button
              type="button"
              disabled=${cursorTrail.length === 0 && page <= 1}
              onClick=${() =>
                cursorTrail.length > 0
                  ? setCursorTrail(cursorTrail.slice(0, -1))
                  : navigate('users', { ...params, page: String(page - 1) })}
            >
              Previous
            </button>
            <span>${pagination?.total?.toLocaleString('en-US')}${pagination?.totalRelation === 'gte' ? '+' : ''} users</span>
            <button
              type="button"
              disabled=${!pagination?.nextCursor}
              onClick=${() => setCursorTrail([...cursorTrail, pagination.nextCursor])}
            >
              Next
            </button>
          </nav>`
        : html`<${Pager} pagination=${pagination} onPage=${(p) => navigate('users', { ...params, page: String(p) })} />`
    }`;
}
