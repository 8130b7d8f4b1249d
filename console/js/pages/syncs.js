// The Syncs page: an integration's runs (pulls and push backfills) with their counts and live
// progress, "Sync now", one run's failures and details, records per run over time, and the
// scheduled jobs.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ActionResult,
  Badge,
  BarChart,
  ErrorBox,
  Field,
  fmtAgo,
  fmtDate,
  fmtDuration,
  fmtNumber,
  html,
  Pager,
  Table,
  useAction,
  useAsync,
  useInterval,
} from '../components.js';

const LIMIT = 20;
const CHART_RUNS = 30;
// A running run renews its counts with each page it applies; this is often enough to watch it.
const POLL_MS = 1500;
// A run that has recorded nothing for this long has likely lost its instance (the next start of
// its integration marks it abandoned): it is then checked on slowly, and says so.
const QUIET_MS = 5 * 60_000;
const QUIET_POLL_MS = 15_000;
const lastBeat = (run) => new Date(run.heartbeatAt ?? run.startedAt).getTime();
const isLive = (run) => run.status === 'running' && Date.now() - lastBeat(run) < QUIET_MS;
const STATUSES = ['running', 'succeeded', 'partial', 'failed', 'interrupted', 'abandoned'];
const TRIGGERS = ['manual', 'cron', 'push', 'webhook'];
const KINDS = {
  full: { label: 'Full pull', query: { mode: 'full' } },
  incremental: { label: 'Incremental pull', query: { mode: 'incremental' } },
  push: { label: 'Push backfill', query: { direction: 'push' } },
};

/** What "Sync now" may start for an integration: its config's direction decides (pull when it has none). */
function kindsOf(integration) {
  const direction = integration?.config?.direction ?? 'pull';
  return [...(direction === 'push' ? [] : ['full', 'incremental']), ...(direction === 'push' || direction === 'both' ? ['push'] : [])];
}

const durationOf = (run) =>
  run.details?.durationMs ?? (run.startedAt ? new Date(run.finishedAt ?? Date.now()).getTime() - new Date(run.startedAt).getTime() : null);

/**
 * A running run's progress from what it records per page: pages of the first stream's total
 * (a CRM that tells it), records read, their rate, and the time left at that rate.
 */
function progressOf(run) {
  const seconds = Math.max((Date.now() - new Date(run.startedAt).getTime()) / 1000, 0.001);
  const rate = run.total / seconds;
  const known = run.totalPages && run.pages < run.totalPages;
  return {
    share: run.totalPages ? Math.min(run.pages / run.totalPages, 1) : null,
    rate,
    eta: known && run.pages > 0 ? ((run.totalPages - run.pages) * seconds) / run.pages : null,
  };
}

function RunProgress({ run }) {
  const p = progressOf(run);
  // One string: htm drops whitespace that spans lines, and these parts need theirs.
  const text = [
    run.totalPages ? `page ${fmtNumber(run.pages)} of ${fmtNumber(run.totalPages)}` : `page ${fmtNumber(run.pages)}`,
    `${fmtNumber(run.total)} records`,
    // A quiet run has no rate or time left worth showing, only how long it has been quiet.
    ...(!isLive(run)
      ? [`nothing recorded since ${fmtAgo(lastBeat(run))}`]
      : [
          `${fmtNumber(Math.round(p.rate))}/s`,
          ...(p.eta !== null
            ? [`about ${fmtDuration(p.eta * 1000)} left`]
            : run.totalPages && run.pages >= run.totalPages
              ? ['finishing']
              : []),
        ]),
  ].join(' · ');
  return html`<div class="sync-progress small">
    ${
      p.share !== null &&
      html`<div
        class="progress"
        role="progressbar"
        aria-label=${`Run ${run.id} progress`}
        aria-valuemin="0"
        aria-valuemax="100"
        aria-valuenow=${Math.round(p.share * 100)}
      >
        <span style=${{ width: `${Math.round(p.share * 100)}%` }}></span>
      </div>`
    }
    <span>${text}</span>
  </div>`;
}

const COUNTS = [
  ['total', 'Read'],
  ['created', 'Created'],
  ['updated', 'Updated'],
  ['unchanged', 'Unchanged'],
  ['deleted', 'Deleted'],
  ['failed', 'Failed'],
];

/** A run's details beyond the failures list (reconciliation, deletions, budget stops…), as stored. */
function extraDetails(details) {
  const { failures: _failures, ...rest } = details ?? {};
  return Object.keys(rest).length > 0 ? rest : null;
}

function RunDetail({ api, id, integrationName, onClose }) {
  const run = useAsync(() => api.get(`/sync/runs/${id}`).then((r) => r.data), [id]);
  const r = run.data;
  useInterval(run.reload, r && isLive(r) ? POLL_MS : QUIET_POLL_MS, r?.status === 'running');
  const failures = Array.isArray(r?.details?.failures) ? r.details.failures : [];
  const extra = r && extraDetails(r.details);
  return html`<section class="panel syncs" aria-labelledby="run-detail-title">
    <div class="row">
      <h2 id="run-detail-title">Run #${id}</h2>
      ${r && html`<${Badge} status=${r.status} />`}
      <span class="spacer"></span>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
    <${ErrorBox} error=${run.error} />
    ${
      r &&
      html`<dl class="sync-facts small">
          <dt>Integration</dt>
          <dd>${r.integrationId ? integrationName(r.integrationId) : 'deleted'} (${r.source})</dd>
          <dt>Kind</dt>
          <dd>${KINDS[r.operation]?.label ?? r.operation}, ${r.trigger}</dd>
          <dt>Started</dt>
          <dd>${fmtDate(r.startedAt)}</dd>
          <dt>Finished</dt>
          <dd>${r.finishedAt ? fmtDate(r.finishedAt) : 'not yet'}</dd>
          <dt>Duration</dt>
          <dd>${fmtDuration(durationOf(r))}</dd>
          <dt>Pages</dt>
          <dd>${fmtNumber(r.pages)}${r.totalPages ? ` (the CRM announced ${fmtNumber(r.totalPages)})` : ''}</dd>
        </dl>
        ${r.status === 'running' && html`<${RunProgress} run=${r} />`}
        ${r.error && html`<div class="alert error" role="alert"><strong>Stopped:</strong> ${r.error}</div>`}
        <ul class="sync-counts" aria-label="Counts">
          ${COUNTS.map(
            ([key, label]) =>
              html`<li><span class="muted small">${label}</span> <strong data-count=${key}>${fmtNumber(r[key])}</strong></li>`,
          )}
        </ul>
        <h3>Records refused (${fmtNumber(r.failed)})</h3>
        <${Table}
          caption="Records refused by this run"
          rows=${failures}
          rowKey=${(f) => `${f.externalId}:${f.reason}`}
          empty="No record was refused."
          columns=${[
            { label: 'Record', render: (f) => html`<code>${f.externalId}</code>` },
            { label: 'Why', render: (f) => f.reason },
          ]}
        />
        ${r.failed > failures.length && html`<p class="muted small">The first ${failures.length} of ${fmtNumber(r.failed)} are kept.</p>`}
        ${
          extra &&
          html`<h3>Details</h3>
            <pre>${JSON.stringify(extra, null, 2)}</pre>`
        }`
    }
  </section>`;
}

/** "Sync now" for the chosen integration: what it may run, the 202 answer and the run it started. */
function SyncNow({ api, integration, onStarted, onRefused, openRun }) {
  const kinds = kindsOf(integration);
  const [kind, setKind] = useState(kinds[0]);
  const action = useAction();
  const [started, setStarted] = useState(null);
  const chosen = kinds.includes(kind) ? kind : kinds[0];
  async function start() {
    setStarted(null);
    const res = await action.run(
      () => api.post(`/integrations/${integration.id}/sync`, undefined, KINDS[chosen].query),
      (r) => `Started: ${KINDS[chosen].label.toLowerCase()} of ${integration.name}, run #${r.data.runId} (${r.data.status}).`,
    );
    if (res) {
      setStarted(res.data.runId);
      onStarted(res.data.runId);
    } else onRefused();
  }
  return html`<section class="panel syncs" aria-labelledby="sync-now-title">
    <h2 id="sync-now-title">Sync now</h2>
    <p class="small">
      ${integration.name} (${integration.provider}) <${Badge} status=${integration.status} />${
        !integration.isActive && html` <${Badge} status="disabled" label="turned off" />`
      }${` · last sync ${fmtAgo(integration.lastSyncAt)}`}
    </p>
    ${integration.errorMessage && html`<p class="small field-error">Last error: ${integration.errorMessage}</p>`}
    <div class="row">
      <label for="sync-kind">What to sync</label>
      <select id="sync-kind" value=${chosen} onChange=${(e) => setKind(e.target.value)}>
        ${kinds.map((k) => html`<option value=${k}>${KINDS[k].label}</option>`)}
      </select>
      <button type="button" class="primary" disabled=${action.busy} onClick=${start}>${action.busy ? 'Starting…' : 'Sync now'}</button>
      ${started && html`<button type="button" onClick=${() => openRun(started)}>Open run #${started}</button>`}
    </div>
    <p class="muted small">
      A full pull reads every record and then removes the people the CRM no longer has; an incremental pull reads what changed since the
      last run. A push backfill sends every user that differs from what was last pushed.
    </p>
    <${ActionResult} action=${action} />
  </section>`;
}

const CHART_SERIES = [
  { key: 'created', label: 'Created', tone: 'ok' },
  { key: 'updated', label: 'Updated', tone: 'info' },
  { key: 'deleted', label: 'Deleted', tone: 'muted' },
  { key: 'failed', label: 'Failed', tone: 'bad' },
];

const queueText = (q) =>
  `${fmtNumber(q.pending)} waiting, ${fmtNumber(q.running)} running${q.nextDueAt ? `; next due ${fmtDate(q.nextDueAt)}` : ''}`;

function JobsPanel({ api, orgId, runHref }) {
  const jobs = useAsync(() => api.get('/sync/jobs', { organizationId: orgId }).then((r) => r.data), [orgId]);
  const failed = useAsync(() => api.get('/sync/runs', { organizationId: orgId, trigger: 'cron', status: 'failed', limit: 5 }), [orgId]);
  const keepAliveFailures = (jobs.data ?? []).flatMap((j) => (Array.isArray(j.failures) ? j.failures : []));
  return html`<section class="panel syncs" aria-labelledby="jobs-title">
    <h2 id="jobs-title">Scheduled jobs</h2>
    <${ErrorBox} error=${jobs.error} />
    <${Table}
      caption="Scheduled jobs"
      rows=${jobs.data}
      rowKey=${(j) => j.name}
      empty=${jobs.loading ? 'Loading…' : 'No scheduled jobs.'}
      columns=${[
        {
          label: 'Job',
          render: (j) => html`<strong>${j.name}</strong>${j.mode ? html` <span class="muted small">(${j.mode})</span>` : ''}`,
        },
        { label: 'Schedule', render: (j) => html`<code>${j.schedule}</code> <span class="muted small">${j.timezone}</span>` },
        { label: 'State', render: (j) => html`<${Badge} status=${j.enabled ? 'enabled' : 'off'} />` },
        { label: 'Next run', render: (j) => (j.enabled ? fmtDate(j.nextRunAt) : 'off') },
        {
          label: 'Last run',
          render: (j) => {
            const last = j.lastRun;
            if (!last) return 'none';
            // Sync schedules name their run; retention reports its own last pass.
            if (last.id)
              return html`<a href=${runHref(last.id)}>Run #${last.id}</a> <${Badge} status=${last.status} />${' '}<span class="muted small"
                  >${fmtAgo(last.startedAt)}</span
                >`;
            return html`<span class="small">${fmtAgo(last.at ?? last.finishedAt ?? last.startedAt)}</span>`;
          },
        },
        {
          label: 'Queue',
          render: (j) => (j.queue ? html`<span class="small">${queueText(j.queue)}</span>` : '–'),
        },
      ]}
    />
    <h3>Recent failures</h3>
    <${ErrorBox} error=${failed.error} />
    ${
      (failed.data?.data ?? []).length === 0 && keepAliveFailures.length === 0
        ? html`<p class="muted small">${failed.loading || jobs.loading ? 'Loading…' : 'No scheduled sync or token refresh has failed.'}</p>`
        : html`<ul class="small">
            ${(failed.data?.data ?? []).map(
              (r) =>
                html`<li key=${`run-${r.id}`}>
                  <a href=${runHref(r.id)}>Run #${r.id}</a
                  >${` (${r.operation}, integration #${r.integrationId ?? '–'}, ${fmtDate(r.startedAt)}): ${r.error ?? 'failed'}`}
                </li>`,
            )}
            ${keepAliveFailures.map(
              (f) =>
                html`<li key=${`token-${f.integrationId}`}>
                  ${`Token refresh of integration #${f.integrationId} (${f.provider}, ${fmtDate(f.at)}): ${f.error}`}
                </li>`,
            )}
          </ul>`
    }
  </section>`;
}

export default function SyncsPage({ api, orgId, isAdmin, params, navigate }) {
  const integrationId = params.integration ? Number(params.integration) : undefined;
  const status = params.status || undefined;
  const trigger = params.trigger || undefined;
  const page = Number(params.page || 1);
  const state = { integration: params.integration, status, trigger, page: params.page, run: params.run };
  const set = (changes) => navigate('syncs', { ...state, ...changes });
  const runHref = (id) => `#/syncs?${new URLSearchParams(Object.entries({ ...params, run: String(id) }).filter(([, v]) => v))}`;

  const integrations = useAsync(() => api.get('/integrations', { organizationId: orgId, limit: 100 }), [orgId]);
  const list = useAsync(
    () => api.get('/sync/runs', { organizationId: orgId, integrationId, status, trigger, page, limit: LIMIT }),
    [orgId, integrationId, status, trigger, page],
  );
  const recent = useAsync(() => api.get('/sync/runs', { organizationId: orgId, integrationId, limit: CHART_RUNS }), [orgId, integrationId]);
  const rows = list.data?.data ?? [];
  const recentRows = recent.data?.data ?? [];
  const running = [...rows, ...recentRows].some((r) => r.status === 'running');
  const live = [...rows, ...recentRows].some(isLive);
  // A run that ended (or a refused start) changed its integration: status, last sync, last error.
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) integrations.reload();
    wasRunning.current = running;
  }, [running]);
  useInterval(
    () => {
      list.reload();
      recent.reload();
    },
    live ? POLL_MS : QUIET_POLL_MS,
    running,
  );

  const known = integrations.data?.data ?? [];
  const chosen = known.find((i) => i.id === integrationId);
  const integrationName = (id) => {
    const i = known.find((x) => x.id === id);
    return i ? `${i.name} (#${id})` : `#${id}`;
  };
  const points = [...recentRows].reverse().map((r) => ({
    label: `Run #${r.id}, ${fmtDate(r.startedAt)}`,
    values: { created: r.created, updated: r.updated, deleted: r.deleted, failed: r.failed },
  }));

  return html`<h1>Syncs</h1>
    <form class="panel row sync-filters" aria-label="Which runs" onSubmit=${(e) => e.preventDefault()}>
      <${Field} id="sync-integration" label="Integration">
        <select
          id="sync-integration"
          value=${params.integration ?? ''}
          onChange=${(e) => set({ integration: e.target.value || undefined, page: undefined, run: undefined })}
        >
          <option value="">All integrations</option>
          ${integrationId && !chosen && html`<option value=${integrationId}>Integration #${integrationId}</option>`}
          ${known.map(
            (i) =>
              html`<option value=${i.id}>
                ${i.name} (${i.provider}${isAdmin && !orgId ? `, organization #${i.organizationId}` : ''})
              </option>`,
          )}
        </select>
      </${Field}>
      <${Field} id="sync-status" label="Status">
        <select id="sync-status" value=${status ?? ''} onChange=${(e) => set({ status: e.target.value || undefined, page: undefined })}>
          <option value="">Any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </${Field}>
      <${Field} id="sync-trigger" label="Trigger">
        <select id="sync-trigger" value=${trigger ?? ''} onChange=${(e) => set({ trigger: e.target.value || undefined, page: undefined })}>
          <option value="">Any</option>
          ${TRIGGERS.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </${Field}>
    </form>
    <${ErrorBox} error=${integrations.error} />
    ${
      chosen
        ? html`<${SyncNow}
            key=${chosen.id}
            api=${api}
            integration=${chosen}
            onRefused=${integrations.reload}
            onStarted=${() => {
              list.reload();
              recent.reload();
            }}
            openRun=${(id) => set({ run: String(id) })}
          />`
        : html`<p class="muted">
            ${integrations.loading ? 'Loading integrations…' : known.length === 0 ? 'No integrations yet: connect one on the Integrations page.' : 'Choose an integration above to sync it now.'}
          </p>`
    }
    ${
      params.run &&
      html`<${RunDetail}
        key=${params.run}
        api=${api}
        id=${params.run}
        integrationName=${integrationName}
        onClose=${() => set({ run: undefined })}
      />`
    }
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Runs${chosen ? ` of ${chosen.name}` : ''}</h2>
      <${ErrorBox} error=${list.error} />
      <div class="sync-runs">
      <${Table}
        caption="Sync runs"
        rows=${rows}
        empty=${list.loading && !list.data ? 'Loading…' : 'No runs match.'}
        columns=${[
          { label: 'Run', render: (r) => html`<a href=${runHref(r.id)}>Run #${r.id}</a>` },
          ...(integrationId ? [] : [{ label: 'Integration', render: (r) => (r.integrationId ? integrationName(r.integrationId) : '–') }]),
          {
            label: 'Kind',
            render: (r) => html`${KINDS[r.operation]?.label ?? r.operation}<br /><span class="muted small">${r.trigger}</span>`,
          },
          {
            label: 'Status',
            render: (r) => html`<${Badge} status=${r.status} />${r.status === 'running' ? html`<${RunProgress} run=${r} />` : null}`,
          },
          { label: 'Started', render: (r) => fmtDate(r.startedAt) },
          { label: 'Duration', render: (r) => fmtDuration(durationOf(r)), num: true },
          ...COUNTS.map(([key, label]) => ({ label, render: (r) => fmtNumber(r[key]), num: true })),
        ]}
      />
      </div>
      <${Pager} pagination=${list.data?.pagination} onPage=${(p) => set({ page: String(p) })} />
    </section>
    <section class="panel syncs" aria-labelledby="chart-title">
      <h2 id="chart-title">Records per run</h2>
      <${ErrorBox} error=${recent.error} />
      <${BarChart} title=${`Records per run, the last ${CHART_RUNS} runs (oldest first)`} points=${points} series=${CHART_SERIES} />
    </section>
    <${JobsPanel} api=${api} orgId=${orgId} runHref=${runHref} />`;
}
