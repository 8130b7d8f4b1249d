// The webhooks page: outbound subscriptions (event picker, active toggle, a secret shown once,
// rotate, delete), a subscription's deliveries (attempts, retry, recover, a chart of outcomes)
// and the inbound events (status, payload, replay).
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ActionResult,
  Badge,
  BarChart,
  ErrorBox,
  Field,
  Notice,
  Pager,
  Table,
  fmtAgo,
  fmtDate,
  fmtDuration,
  fmtNumber,
  html,
  useAction,
  useAsync,
  useInterval,
} from '../components.js';

// Deliveries and inbound events that are still moving are polled at this pace.
const LIVE_MS = 1500;

/** The messages of an API error's details at `path` (or under it), for the field that caused them. */
function fieldError(error, path) {
  const details = Array.isArray(error?.details) ? error.details : [];
  const mine = details.filter((d) => d.path === path || String(d.path).startsWith(`${path}.`));
  return mine.length ? mine.map((d) => d.message).join('; ') : null;
}

/** The error less the details shown at their fields (so nothing is said twice, and nothing lost). */
function restOf(error, paths) {
  if (!error) return null;
  const details = (Array.isArray(error.details) ? error.details : []).filter(
    (d) => !paths.some((p) => d.path === p || String(d.path).startsWith(`${p}.`)),
  );
  return { message: error.message, details };
}

const excerpt = (text, n = 60) => (text && text.length > n ? `${text.slice(0, n)}…` : (text ?? ''));

/** The secret of a subscription, in this answer only: never stored, gone once dismissed. */
function SecretOnce({ shown, onDone }) {
  const [copied, setCopied] = useState(null);
  const box = useRef(null);
  // It appears at the top of the page, away from the button that caused it: focus follows.
  useEffect(() => {
    box.current?.focus();
    setCopied(null);
  }, [shown]);
  function copy() {
    const done = () => setCopied('Copied to the clipboard.');
    const failed = () => setCopied('Copying is not allowed here: select the secret and copy it by hand.');
    if (!navigator.clipboard) return failed();
    return navigator.clipboard.writeText(shown.secret).then(done, failed);
  }
  return html`<section class="alert info secret-once" aria-labelledby="secret-once-title" tabindex="-1" ref=${box}>
    <h3 id="secret-once-title">${shown.why === 'rotated' ? 'New signing secret' : 'Signing secret'} of ${shown.url}</h3>
    <p>
      Shown this once: store it now. The console does not keep it and cannot show it again (rotate the secret if it is lost).
      ${shown.why === 'rotated' ? ' The old secret keeps signing beside it for the grace period.' : ''}
    </p>
    <p><code class="secret" data-testid="new-secret">${shown.secret}</code></p>
    <div class="row">
      <button type="button" onClick=${copy}>Copy secret</button>
      <button type="button" onClick=${onDone}>Done, hide it</button>
      ${copied && html`<span role="status">${copied}</span>`}
    </div>
  </section>`;
}

/**
 * The subscription form: a new one (POST, its secret shown once after), or `editing` one (PATCH
 * of its URL, description and events; its secret and state stay).
 */
function SubscriptionForm({ api, isAdmin, orgId, eventTypes, editing, onCreated, onSaved, onCancel }) {
  const [url, setUrl] = useState(editing?.url ?? '');
  const [description, setDescription] = useState(editing?.description ?? '');
  const [events, setEvents] = useState(editing?.events ?? []);
  const action = useAction();
  const heading = useRef(null);
  useEffect(() => {
    if (editing) heading.current?.focus();
  }, []);
  if (!editing && isAdmin && orgId === undefined) {
    return html`<${Notice} kind="info">Choose an organization above to create a subscription for it.</${Notice}>`;
  }
  const toggle = (type, on) => setEvents((list) => (on ? [...list, type] : list.filter((t) => t !== type)));
  async function submit(e) {
    e.preventDefault();
    if (editing) {
      const body = { url: url.trim(), events, description: description.trim() || null };
      const res = await action.run(() => api.patch(`/webhook-subscriptions/${editing.id}`, body));
      if (res) onSaved(res.data);
      return;
    }
    const body = { url: url.trim(), events, ...(description.trim() ? { description: description.trim() } : {}) };
    if (isAdmin) body.organizationId = orgId;
    const res = await action.run(() => api.post('/webhook-subscriptions', body));
    if (res) {
      setUrl('');
      setDescription('');
      setEvents([]);
      action.clear();
      onCreated(res.data);
    }
  }
  const urlError = fieldError(action.error, 'body.url');
  const eventsError = fieldError(action.error, 'body.events');
  const types = eventTypes.data ?? [];
  const id = editing ? `edit-${editing.id}` : 'sub';
  const title = editing ? `Edit the subscription to ${editing.url}` : 'New subscription';
  return html`<form class="new-subscription" onSubmit=${submit} noValidate aria-labelledby=${`${id}-title`}>
    <h3 id=${`${id}-title`} tabindex="-1" ref=${heading}>${title}</h3>
    <${Field} id=${`${id}-url`} label="Endpoint URL" hint="Where the events are POSTed, signed with the subscription's secret." error=${urlError}>
      <input
        id=${`${id}-url`}
        type="url"
        required
        value=${url}
        aria-invalid=${urlError ? 'true' : undefined}
        aria-describedby=${urlError ? `${id}-url-hint ${id}-url-error` : `${id}-url-hint`}
        onInput=${(e) => setUrl(e.target.value)}
      />
    </${Field}>
    <${Field} id=${`${id}-description`} label="Description (optional)" error=${fieldError(action.error, 'body.description')}>
      <input id=${`${id}-description`} type="text" maxLength="500" value=${description} onInput=${(e) => setDescription(e.target.value)} />
    </${Field}>
    <fieldset class="event-picker" aria-describedby=${eventsError ? `${id}-events-error` : undefined}>
      <legend>Events</legend>
      <${ErrorBox} error=${eventTypes.error} />
      ${types.map(
        (t) =>
          html`<label class="check" key=${t}>
            <input type="checkbox" checked=${events.includes(t)} onChange=${(e) => toggle(t, e.target.checked)} /> <code>${t}</code>
          </label>`,
      )}
      ${eventsError && html`<span class="field-error" id=${`${id}-events-error`} role="alert">${eventsError}</span>`}
    </fieldset>
    <${ErrorBox} error=${restOf(action.error, ['body.url', 'body.events', 'body.description'])} />
    <div class="row">
      <button class="primary" type="submit" disabled=${action.busy}>
        ${editing ? (action.busy ? 'Saving…' : 'Save subscription') : action.busy ? 'Creating…' : 'Create subscription'}
      </button>
      ${editing && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
    </div>
  </form>`;
}

function LastDelivery({ last }) {
  if (!last) return html`<span class="muted">none yet</span>`;
  return html`<${Badge} status=${last.status} />
    ${last.lastStatusCode !== null && html` <span class="small">HTTP ${last.lastStatusCode}</span>`}
    <br /><span class="small muted" title=${fmtDate(last.createdAt)}>${fmtAgo(last.createdAt)}</span>`;
}

function Subscriptions({ api, isAdmin, orgId, selected, navigate, onSecret, onChanged, reloadRef }) {
  const [page, setPage] = useState(1);
  const [confirm, setConfirm] = useState(null);
  const [editing, setEditing] = useState(null);
  const [saved, setSaved] = useState(null);
  const cancelDelete = useRef(null);
  useEffect(() => {
    if (confirm) cancelDelete.current?.focus();
  }, [confirm]);
  const list = useAsync(
    () => api.get('/webhook-subscriptions', { page, limit: 20, organizationId: isAdmin ? orgId : undefined }),
    [page, orgId],
  );
  reloadRef.current = list.reload;
  const eventTypes = useAsync(() => api.get('/openapi.json').then((doc) => Object.keys(doc.webhooks ?? {})), []);
  const action = useAction();

  // The box shows what was asked for until the list is read again (the server's word, also after a failure).
  const [toggling, setToggling] = useState({});
  async function setActive(sub, isActive) {
    setToggling((t) => ({ ...t, [sub.id]: isActive }));
    await action.run(
      () => api.patch(`/webhook-subscriptions/${sub.id}`, { isActive }),
      `${isActive ? 'Enabled' : 'Disabled'} the subscription to ${sub.url}.`,
    );
    await list.reload();
    setToggling((t) => Object.fromEntries(Object.entries(t).filter(([id]) => id !== String(sub.id))));
    onChanged();
  }
  async function rotate(sub) {
    const res = await action.run(() => api.post(`/webhook-subscriptions/${sub.id}/rotate-secret`, {}), null);
    if (res) onSecret({ url: sub.url, secret: res.data.secret, why: 'rotated' });
    list.reload();
    onChanged();
  }
  async function remove(sub) {
    const res = await action.run(
      () => api.del(`/webhook-subscriptions/${sub.id}`).then(() => true),
      `Deleted the subscription to ${sub.url}.`,
    );
    setConfirm(null);
    if (res && String(selected) === String(sub.id)) navigate('webhooks', {});
    list.reload();
  }

  const rows = list.data?.data ?? [];
  const columns = [
    {
      label: 'Endpoint',
      render: (s) => html`<code>${s.url}</code>${s.description && html`<br /><span class="small muted">${s.description}</span>`}`,
    },
    ...(isAdmin && orgId === undefined ? [{ label: 'Organization', render: (s) => `#${s.organizationId}` }] : []),
    {
      label: 'Events',
      render: (s) =>
        html`<ul class="plain">
          ${s.events.map((e) => html`<li><code>${e}</code></li>`)}
        </ul>`,
    },
    {
      label: 'Status',
      render: (s) =>
        html`<${Badge} status=${s.isActive ? 'active' : 'disabled'} />
          ${!s.isActive && s.disabledReason && html`<br /><span class="small">${s.disabledReason}</span>`}`,
    },
    { label: 'Last delivery', render: (s) => html`<${LastDelivery} last=${s.lastDelivery} />` },
    { label: 'Secret', render: (s) => html`<code>${s.secretPreview}</code>` },
    {
      label: 'Actions',
      render: (s) =>
        html`<div class="row">
          <label class="check"
            ><input
              type="checkbox"
              checked=${toggling[s.id] ?? s.isActive}
              disabled=${action.busy}
              onChange=${(e) => setActive(s, e.target.checked)}
            />
            Active</label
          >
          <button
            type="button"
            aria-pressed=${String(selected) === String(s.id)}
            onClick=${() => navigate('webhooks', { subscription: s.id })}
          >
            Deliveries
          </button>
          <button
            type="button"
            onClick=${() => {
              setSaved(null);
              setEditing(s);
            }}
          >
            Edit
          </button>
          <button type="button" disabled=${action.busy} onClick=${() => rotate(s)}>Rotate secret</button>
          <button type="button" class="danger" onClick=${() => setConfirm(s)}>Delete</button>
        </div>`,
    },
  ];
  return html`<section class="panel subscriptions" aria-labelledby="subscriptions-title">
    <h2 id="subscriptions-title">Subscriptions</h2>
    <p class="muted small">Events of this service POSTed to your endpoints, signed with each subscription's secret.</p>
    <${ErrorBox} error=${list.error} />
    ${
      confirm &&
      html`<div class="alert error confirm" role="alertdialog" aria-labelledby="confirm-delete">
        <p id="confirm-delete">Delete the subscription to <code>${confirm.url}</code>? Its deliveries and their history go with it.</p>
        <div class="row">
          <button type="button" class="danger" disabled=${action.busy} onClick=${() => remove(confirm)}>Delete subscription</button>
          <button type="button" ref=${cancelDelete} onClick=${() => setConfirm(null)}>Cancel</button>
        </div>
      </div>`
    }
    <${ActionResult} action=${action} />
    <${Notice}>${saved}</${Notice}>
    ${list.loading && !list.data ? html`<p class="muted" role="status">Loading subscriptions…</p>` : null}
    ${list.data && html`<${Table} columns=${columns} rows=${rows} caption="Webhook subscriptions" empty="No subscriptions yet." />`}
    ${list.data && list.data.pagination.total > 20 && html`<${Pager} pagination=${list.data.pagination} onPage=${setPage} />`}
    ${
      editing
        ? html`<${SubscriptionForm}
            key=${`edit-${editing.id}`}
            api=${api}
            isAdmin=${isAdmin}
            orgId=${orgId}
            eventTypes=${eventTypes}
            editing=${editing}
            onSaved=${(sub) => {
              setEditing(null);
              setSaved(`Saved the subscription to ${sub.url}.`);
              list.reload();
              onChanged();
            }}
            onCancel=${() => setEditing(null)}
          />`
        : html`<${SubscriptionForm}
            key="new"
            api=${api}
            isAdmin=${isAdmin}
            orgId=${orgId}
            eventTypes=${eventTypes}
            onCreated=${(sub) => {
              onSecret({ url: sub.url, secret: sub.secret, why: 'created' });
              list.reload();
            }}
          />`
    }
  </section>`;
}

/** The API's outcome buckets as chart points: hours in local time, days as the UTC dates they are. */
function outcomePoints(answer) {
  if (!answer) return [];
  const fmt =
    answer.bucket === 'hour'
      ? { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }
      : { day: 'numeric', month: 'short', timeZone: 'UTC' };
  return answer.points.map((p) => ({
    label: new Date(p.at).toLocaleString('en-GB', fmt),
    values: { delivered: p.succeeded, failed: p.failed, pending: p.pending + p.sending, skipped: p.skipped },
  }));
}

const OUTCOME_SERIES = [
  { key: 'delivered', label: 'Delivered', tone: 'ok' },
  { key: 'failed', label: 'Failed', tone: 'bad' },
  { key: 'pending', label: 'Pending', tone: 'info' },
  { key: 'skipped', label: 'Skipped', tone: 'muted' },
];

function Attempts({ delivery, onClose }) {
  const columns = [
    { label: 'Attempt', num: true, render: (a) => a.attempt },
    { label: 'Started', render: (a) => fmtDate(a.startedAt) },
    { label: 'Status code', num: true, render: (a) => a.statusCode ?? '–' },
    { label: 'Latency', num: true, render: (a) => fmtDuration(a.latencyMs) },
    { label: 'Response', render: (a) => (a.responseBody ? html`<pre>${a.responseBody}</pre>` : html`<span class="muted">empty</span>`) },
    { label: 'Error', render: (a) => a.error ?? '' },
  ];
  return html`<section class="attempts" aria-labelledby="attempts-title">
    <div class="row">
      <h3 id="attempts-title">
        Delivery #${delivery.id}: ${delivery.event}, ${delivery.attemptLog.length} attempt${delivery.attemptLog.length === 1 ? '' : 's'}
      </h3>
      <span class="spacer"></span>
      <button type="button" onClick=${onClose}>Close</button>
    </div>
    <${Table} columns=${columns} rows=${delivery.attemptLog} rowKey=${(a) => a.attempt} caption="Attempts" empty="Not attempted yet." />
    <details>
      <summary>Payload</summary>
      <pre>${JSON.stringify(delivery.payload, null, 2)}</pre>
    </details>
  </section>`;
}

function Deliveries({ api, subscriptionId, version, onChanged }) {
  const [page, setPage] = useState(1);
  const [status, setStatus] = useState('');
  const [event, setEvent] = useState('');
  const [bucket, setBucket] = useState('hour');
  const [open, setOpen] = useState(null);
  const [since, setSince] = useState(() => localInput(new Date(Date.now() - 24 * 3600_000)));
  const [sinceError, setSinceError] = useState(null);
  const path = `/webhook-subscriptions/${subscriptionId}`;
  const sub = useAsync(() => api.get(path), [subscriptionId, version]);
  const list = useAsync(
    () => api.get(`${path}/deliveries`, { page, limit: 20, status: status || undefined, event: event || undefined }),
    [subscriptionId, page, status, event],
  );
  const chart = useAsync(() => api.get(`${path}/deliveries/outcomes`, { bucket }), [subscriptionId, bucket]);
  const action = useAction();
  const recover = useAction();
  const rows = list.data?.data ?? [];
  const live = rows.some((d) => d.status === 'pending' || d.status === 'sending');
  useInterval(
    () => {
      list.reload();
      chart.reload();
    },
    LIVE_MS,
    live,
  );
  // When the last moving delivery settles, the subscription's "last delivery" is news too.
  const wasLive = useRef(false);
  useEffect(() => {
    if (wasLive.current && !live) {
      chart.reload();
      onChanged();
    }
    wasLive.current = live;
  }, [live]);

  async function retry(d) {
    await action.run(() => api.post(`${path}/deliveries/${d.id}/retry`, {}), `Delivery #${d.id} is queued for another round of attempts.`);
    list.reload();
    chart.reload();
  }
  async function submitRecover(e) {
    e.preventDefault();
    const at = new Date(since);
    if (!since || Number.isNaN(at.getTime())) {
      setSinceError('Enter a date and time.');
      return;
    }
    setSinceError(null);
    const res = await recover.run(
      () => api.post(`${path}/recover`, {}, { since: at.toISOString() }),
      (r) => `Subscription enabled; ${fmtNumber(r.data.requeued)} ${r.data.requeued === 1 ? 'delivery' : 'deliveries'} queued again.`,
    );
    if (res) {
      sub.reload();
      list.reload();
      chart.reload();
      onChanged();
    }
  }

  if (sub.error)
    return html`<section class="panel">
      <h2>Deliveries</h2>
      <${ErrorBox} error=${sub.error} />
    </section>`;
  const s = sub.data?.data;
  const opened = open && rows.find((d) => d.id === open);
  const lastAttempt = (d) => d.attemptLog[d.attemptLog.length - 1];
  const columns = [
    { label: 'Delivery', num: true, render: (d) => `#${d.id}` },
    { label: 'Event', render: (d) => html`<code>${d.event}</code>` },
    { label: 'Status', render: (d) => html`<${Badge} status=${d.status} />` },
    { label: 'Attempts', num: true, render: (d) => d.attempts },
    {
      label: 'Status codes',
      render: (d) => (d.attemptLog.length ? d.attemptLog.map((a) => a.statusCode ?? 'no answer').join(', ') : '–'),
    },
    { label: 'Latency', num: true, render: (d) => (lastAttempt(d) ? fmtDuration(lastAttempt(d).latencyMs) : '–') },
    {
      label: 'Response',
      render: (d) => {
        const a = lastAttempt(d);
        if (!a) return '';
        // What the endpoint answered, or why there was no answer (a timeout, a refused connection).
        if (a.responseBody) return html`<code>${excerpt(a.responseBody)}</code>`;
        return a.error ? html`<span class="field-error">${excerpt(a.error)}</span>` : html`<span class="muted">empty</span>`;
      },
    },
    { label: 'Created', render: (d) => html`<span title=${fmtDate(d.createdAt)}>${fmtAgo(d.createdAt)}</span>` },
    {
      label: 'Actions',
      render: (d) =>
        html`<div class="row">
          <button type="button" aria-expanded=${open === d.id} onClick=${() => setOpen(open === d.id ? null : d.id)}>
            Attempts of #${d.id}
          </button>
          ${
            (d.status === 'failed' || d.status === 'skipped') &&
            html`<button type="button" disabled=${action.busy} onClick=${() => retry(d)}>Retry #${d.id}</button>`
          }
        </div>`,
    },
  ];
  return html`<section class="panel" aria-labelledby="deliveries-title">
    <h2 id="deliveries-title">Deliveries${s ? html` to <code>${s.url}</code>` : ''}</h2>
    ${
      s &&
      !s.isActive &&
      html`<${Notice} kind="info"
        >This subscription is disabled${s.disabledReason ? `: ${s.disabledReason}` : ''}. Retrying needs it enabled; "Recover" enables it and
        queues again what failed or was skipped.</${Notice}
      >`
    }
    <div class="row">
      <label for="delivery-status">Status</label>
      <select
        id="delivery-status"
        value=${status}
        onChange=${(e) => {
          setStatus(e.target.value);
          setPage(1);
        }}
      >
        <option value="">All</option>
        ${['pending', 'sending', 'succeeded', 'failed', 'skipped'].map((v) => html`<option value=${v}>${v}</option>`)}
      </select>
      <label for="delivery-event">Event</label>
      <select
        id="delivery-event"
        value=${event}
        onChange=${(e) => {
          setEvent(e.target.value);
          setPage(1);
        }}
      >
        <option value="">All</option>
        ${(sub.data?.data?.events ?? []).map((v) => html`<option value=${v}>${v}</option>`)}
      </select>
      <button
        type="button"
        onClick=${() => {
          list.reload();
          chart.reload();
        }}
      >
        Refresh
      </button>
      ${live && html`<span class="small muted" role="status">Updating while deliveries are under way…</span>`}
    </div>
    <${ErrorBox} error=${list.error} />
    <${ActionResult} action=${action} />
    ${list.loading && !list.data ? html`<p class="muted" role="status">Loading deliveries…</p>` : null}
    ${list.data && html`<${Table} columns=${columns} rows=${rows} caption="Deliveries" empty="No deliveries yet." />`}
    ${list.data && list.data.pagination.total > 20 && html`<${Pager} pagination=${list.data.pagination} onPage=${setPage} />`}
    ${opened && html`<${Attempts} delivery=${opened} onClose=${() => setOpen(null)} />`}
    <div class="row">
      <h3>Delivery outcomes</h3>
      <label for="outcome-bucket" class="small">Outcomes per</label>
      <select id="outcome-bucket" value=${bucket} onChange=${(e) => setBucket(e.target.value)}>
        <option value="hour">hour, last 48 hours</option>
        <option value="day">day (UTC), last 30 days</option>
      </select>
    </div>
    <${ErrorBox} error=${chart.error} />
    ${
      /* Named after the answer it draws, not the choice: until the new answer is in, the old one stays. */
      chart.data &&
      html`<${BarChart}
        title=${chart.data.data.bucket === 'hour' ? 'Deliveries per hour, last 48 hours' : 'Deliveries per day (UTC), last 30 days'}
        points=${outcomePoints(chart.data.data)}
        series=${OUTCOME_SERIES}
      />`
    }
    <form class="recover" onSubmit=${submitRecover} noValidate aria-labelledby="recover-title">
      <h3 id="recover-title">Recover</h3>
      <p class="small muted">Enables the subscription again and redelivers every delivery that failed or was skipped since a time.</p>
      <${Field} id="recover-since" label="Since" error=${sinceError ?? fieldError(recover.error, 'query.since')}>
        <input id="recover-since" type="datetime-local" step="1" value=${since} onInput=${(e) => setSince(e.target.value)} />
      </${Field}>
      <${ErrorBox} error=${restOf(recover.error, ['query.since'])} />
      <${Notice}>${recover.message}</${Notice}>
      <button type="submit" disabled=${recover.busy}>${recover.busy ? 'Recovering…' : 'Recover'}</button>
    </form>
  </section>`;
}

/** A Date as a datetime-local input's value (local time, to the second). */
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function InboundEvents({ api, isAdmin, orgId }) {
  const [page, setPage] = useState(1);
  const [status, setStatus] = useState('');
  const [provider, setProvider] = useState('');
  const [open, setOpen] = useState(null);
  const list = useAsync(
    () =>
      api.get('/webhooks/events', {
        page,
        limit: 20,
        status: status || undefined,
        provider: provider.trim() || undefined,
        organizationId: isAdmin ? orgId : undefined,
      }),
    [page, status, provider, orgId],
  );
  const detail = useAsync(() => (open ? api.get(`/webhooks/events/${open}`) : Promise.resolve(null)), [open]);
  const action = useAction();
  const rows = list.data?.data ?? [];
  useInterval(
    () => list.reload(),
    LIVE_MS,
    rows.some((e) => e.status === 'pending'),
  );
  async function replay(ev) {
    await action.run(() => api.post(`/webhooks/events/${ev.id}/replay`, {}), `Event #${ev.id} is queued to be processed again.`);
    list.reload();
  }
  const columns = [
    { label: 'Event', num: true, render: (e) => `#${e.id}` },
    { label: 'Provider', render: (e) => e.provider },
    { label: 'Type', render: (e) => html`<code>${e.eventType}</code>` },
    {
      label: 'Status',
      render: (e) =>
        html`<${Badge}
            status=${e.status}
          />${e.outcome && e.outcome !== e.status ? html` <span class="small muted">${e.outcome}</span>` : ''}`,
    },
    { label: 'Attempts', num: true, render: (e) => e.attempts },
    { label: 'Received', render: (e) => fmtDate(e.receivedAt) },
    { label: 'Processed', render: (e) => fmtDate(e.processedAt) },
    {
      label: 'Error',
      render: (e) => (e.lastError ? html`<span class="field-error" title=${e.lastError}>${excerpt(e.lastError, 80)}</span>` : ''),
    },
    {
      label: 'Actions',
      render: (e) =>
        html`<div class="row">
          <button type="button" aria-expanded=${open === e.id} onClick=${() => setOpen(open === e.id ? null : e.id)}>
            Payload of #${e.id}
          </button>
          ${e.status === 'failed' && html`<button type="button" disabled=${action.busy} onClick=${() => replay(e)}>Replay #${e.id}</button>`}
        </div>`,
    },
  ];
  return html`<section class="panel" aria-labelledby="inbound-title">
    <h2 id="inbound-title">Inbound events</h2>
    <p class="muted small">What the CRMs sent: stored before the answer, then applied by the workers. A failed one can be replayed.</p>
    <div class="row">
      <label for="inbound-status">Status</label>
      <select
        id="inbound-status"
        value=${status}
        onChange=${(e) => {
          setStatus(e.target.value);
          setPage(1);
        }}
      >
        <option value="">All</option>
        ${['pending', 'processed', 'failed'].map((v) => html`<option value=${v}>${v}</option>`)}
      </select>
      <label for="inbound-provider">Provider</label>
      <input
        id="inbound-provider"
        type="search"
        value=${provider}
        onChange=${(e) => {
          setProvider(e.target.value);
          setPage(1);
        }}
      />
      <button type="button" onClick=${() => list.reload()}>Refresh</button>
    </div>
    <${ErrorBox} error=${list.error} />
    <${ActionResult} action=${action} />
    ${list.loading && !list.data ? html`<p class="muted" role="status">Loading events…</p>` : null}
    ${list.data && html`<${Table} columns=${columns} rows=${rows} caption="Inbound events" empty="No inbound events." />`}
    ${list.data && list.data.pagination.total > 20 && html`<${Pager} pagination=${list.data.pagination} onPage=${setPage} />`}
    ${
      open &&
      html`<section class="attempts" aria-labelledby="payload-title">
        <div class="row">
          <h3 id="payload-title">Event #${open}</h3>
          <span class="spacer"></span>
          <button type="button" onClick=${() => setOpen(null)}>Close</button>
        </div>
        <${ErrorBox} error=${detail.error} />
        ${detail.data && html`<pre>${JSON.stringify(detail.data.data.payload, null, 2)}</pre>`}
      </section>`
    }
  </section>`;
}

export default function WebhooksPage({ api, isAdmin, orgId, params, navigate }) {
  // The secret of a subscription just created or rotated: in this component's memory only.
  const [secret, setSecret] = useState(null);
  // Bumped when the subscriptions panel changes one (enabled, disabled, rotated): the deliveries panel reads it again.
  const [version, setVersion] = useState(0);
  const reloadSubscriptions = useRef(() => {});
  const selected = params.subscription;
  return html`<h1>Webhooks</h1>
    ${secret && html`<${SecretOnce} shown=${secret} onDone=${() => setSecret(null)} />`}
    <${Subscriptions}
      api=${api}
      isAdmin=${isAdmin}
      orgId=${orgId}
      selected=${selected}
      navigate=${navigate}
      onSecret=${setSecret}
      onChanged=${() => setVersion((v) => v + 1)}
      reloadRef=${reloadSubscriptions}
    />
    ${
      selected
        ? html`<${Deliveries}
            key=${selected}
            api=${api}
            subscriptionId=${selected}
            version=${version}
            onChanged=${() => reloadSubscriptions.current()}
          />`
        : html`<p class="muted">Choose "Deliveries" on a subscription to see its deliveries, retry them and chart their outcomes.</p>`
    }
    <${InboundEvents} api=${api} isAdmin=${isAdmin} orgId=${orgId} />`;
}
