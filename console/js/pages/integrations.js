// The integrations page: a card per provider (the templates), the organization's integrations
// of it, connecting one (a form generated from the template's JSON Schema, or OAuth), and each
// integration's test, disconnect/reconnect, delete and settings.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ActionResult, Badge, ErrorBox, Field, Notice, fmtAgo, fmtDate, html, useAction, useAsync } from '../components.js';
import { SchemaFields, configOf, formSchemaOf, initialValues, placeErrors } from '../schema-form.js';

/** Config fields about what a sync does rather than how to reach the CRM (pushConfigProperties). */
const SYNC_FIELDS = ['direction', 'pushMapping', 'onUserDeleted'];

/** The schema split in two groups: the connection, and direction and mapping (when it has them). */
function splitSchema(schema) {
  const props = Object.entries(schema?.properties ?? {});
  const pick = (keep) => ({ ...schema, properties: Object.fromEntries(props.filter(([k]) => keep(SYNC_FIELDS.includes(k)))) });
  const sync = { ...pick((s) => s), 'x-order': SYNC_FIELDS };
  return { connection: pick((s) => !s), sync: Object.keys(sync.properties).length ? sync : null };
}

const oauthReady = (t) => Boolean(t.connect?.oauthReady && t.connect.modes?.includes('oauth2'));
const byForm = (t) => !t.connect || t.connect.modes?.includes('api_key') || !oauthReady(t);

export default function IntegrationsPage({ api, isAdmin, orgId, params, navigate, oauthBack }) {
  const templates = useAsync(() => api.get('/integration-templates'), []);
  // An admin with every organization in scope sees every organization's integrations, 100 a
  // page; "Show more" adds the next page (all loaded pages are read again on a reload).
  const [pages, setPages] = useState(1);
  useEffect(() => setPages(1), [orgId]);
  const integrations = useAsync(async () => {
    const answers = await Promise.all(
      Array.from({ length: pages }, (_, i) => api.get('/integrations', { organizationId: orgId, limit: PAGE_SIZE, page: i + 1 })),
    );
    // A row created meanwhile shifts the pages: keep each integration once.
    const seen = new Set();
    const data = answers.flatMap((a) => a.data).filter((r) => !seen.has(r.id) && seen.add(r.id));
    return { data, total: answers[answers.length - 1].pagination?.total ?? data.length };
  }, [orgId, pages]);
  const orgs = useOrgNames(api, isAdmin && orgId === undefined ? (integrations.data?.data ?? []) : null);
  const [revealed, setRevealed] = useState(null);
  const [notice, setNotice] = useState(null);
  const oauth = useAction();

  const orgName = (id) => orgs[id] ?? `Organization #${id}`;
  const rows = integrations.data?.data ?? [];
  const total = integrations.data?.total ?? 0;
  // Cards wait for both lists, so a provider is never shown "not connected" before its integrations are known.
  const ready = Boolean(templates.data && (integrations.data || integrations.error));
  const used = (t) => rows.some((r) => r.templateId === t.id);
  // Providers in use first (the sort is stable: each group keeps the templates' order).
  const list = (ready ? (templates.data?.data ?? []) : [])
    .filter((t) => t.isActive || used(t))
    .sort((a, b) => Number(used(b)) - Number(used(a)));
  const connecting = list.find((t) => t.name === params.connect);
  const editing = rows.find((r) => String(r.id) === params.settings);

  const show = (next) => navigate('integrations', next);
  const done = (message) => {
    setNotice(message);
    integrations.reload();
  };

  async function startOAuth(t) {
    await oauth.run(async () => {
      // The console's own address is always an allowed returnTo; the callback appends integrationId and status.
      const returnTo = `${location.origin}/console/#/integrations${isAdmin && orgId ? `?org=${orgId}` : ''}`;
      const { data } = await api.post(`/integrations/oauth/${t.name}/authorize`, {}, { organizationId: orgId, returnTo });
      location.assign(data.url);
    });
  }

  return html`<h1>Integrations</h1>
    ${oauthBack && html`<${OAuthBack} back=${oauthBack} rows=${rows} />`}
    <${Notice}>${notice}</${Notice}>
    ${revealed && html`<${RevealedOnce} revealed=${revealed} onDone=${() => setRevealed(null)} />`}
    <${ActionResult} action=${oauth} />
    ${
      orgId === undefined &&
      html`<p class="alert info" role="status">
        All organizations are in scope: their integrations are listed with their organization. Choose an organization above to connect one.
      </p>`
    }
    <${ErrorBox} error=${templates.error} />
    <${ErrorBox} error=${integrations.error} />
    ${
      connecting &&
      orgId !== undefined &&
      html`<${ConnectForm}
        key=${connecting.id}
        api=${api}
        template=${connecting}
        orgId=${orgId}
        isAdmin=${isAdmin}
        onCancel=${() => show({})}
        onCreated=${(view) => {
          if (view.revealedOnce) setRevealed({ name: view.name, values: view.revealedOnce });
          show({});
          done(`${view.name} was created (${view.status}). Test it to make it active.`);
        }}
      />`
    }
    ${
      editing &&
      html`<${SettingsForm}
        key=${editing.id}
        api=${api}
        row=${editing}
        template=${list.find((t) => t.id === editing.templateId)}
        onCancel=${() => show({})}
        onSaved=${(view) => {
          show({});
          done(`Settings of ${view.name} saved.`);
        }}
      />`
    }
    ${!ready && !templates.error && html`<p class="muted" role="status">Loading…</p>`}
    <div class="cards">
      ${list.map(
        (t) =>
          html`<${ProviderCard}
            key=${t.id}
            template=${t}
            rows=${rows.filter((r) => r.templateId === t.id)}
            api=${api}
            orgId=${orgId}
            showOrg=${orgId === undefined}
            orgName=${orgName}
            oauthBusy=${oauth.busy}
            onConnect=${() => show({ connect: t.name })}
            onOAuth=${() => startOAuth(t)}
            onSettings=${(row) => show({ settings: String(row.id) })}
            onSyncs=${(row) => navigate('syncs', { integration: String(row.id) })}
            onChanged=${(message) => done(message)}
          />`,
      )}
    </div>
    ${
      ready &&
      rows.length < total &&
      html`<p class="row more" role="status">
        <span>Showing ${rows.length} of ${total} integrations.</span>
        <button type="button" disabled=${integrations.loading} onClick=${() => setPages((n) => n + 1)}>
          ${integrations.loading ? 'Loading…' : `Show ${Math.min(PAGE_SIZE, total - rows.length)} more`}
        </button>
      </p>`
    }`;
}

const PAGE_SIZE = 100;

/**
 * The names of the organizations these integrations belong to (null: none needed), read 100
 * ids a request (`GET /organizations?ids=`) and remembered, so an admin with thousands of
 * organizations sees the right names.
 */
function useOrgNames(api, rows) {
  const [names, setNames] = useState({});
  const ids = rows ? [...new Set(rows.map((r) => r.organizationId))].filter((id) => !(id in names)) : [];
  const key = ids.join(',');
  useEffect(() => {
    if (!key) return undefined;
    let live = true;
    const wanted = key.split(',');
    const batches = Array.from({ length: Math.ceil(wanted.length / 100) }, (_, i) => wanted.slice(i * 100, i * 100 + 100));
    Promise.all(batches.map((b) => api.get('/organizations', { ids: b.join(','), limit: 100 }).then((r) => r.data)))
      .then((found) => {
        if (!live) return;
        // An id not found (deleted meanwhile) is remembered as unnamed, so it is not asked again.
        const named = Object.fromEntries(wanted.map((id) => [id, null]));
        for (const o of found.flat()) named[o.id] = o.name;
        setNames((n) => ({ ...n, ...named }));
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [key]);
  return names;
}

/** What the OAuth round trip brought back (once). */
function OAuthBack({ back, rows }) {
  if (back.error) {
    return html`<div class="alert error" role="alert">OAuth connection not made: ${back.message} <code>${back.error}</code></div>`;
  }
  const row = rows.find((r) => String(r.id) === String(back.integrationId));
  const ok = back.status === 'active';
  return html`<div class=${`alert ${ok ? 'success' : 'error'}`} role=${ok ? 'status' : 'alert'}>
    OAuth connection finished: ${row ? row.name : `integration #${back.integrationId}`} is <${Badge} status=${back.status} />
    ${!ok && row?.errorMessage && html`<span> (${row.errorMessage})</span>`}
  </div>`;
}

/** Values a create answer shows once (a signing secret): here until dismissed, nowhere else. */
function RevealedOnce({ revealed, onDone }) {
  return html`<div class="alert info revealed" role="status">
    <strong>Copy now: shown only this once for ${revealed.name}.</strong>
    <dl>
      ${Object.entries(revealed.values).map(
        ([k, v]) =>
          html`<dt>${k}</dt>
            <dd><code>${typeof v === 'string' ? v : JSON.stringify(v)}</code></dd>`,
      )}
    </dl>
    <button type="button" onClick=${onDone}>I have copied it</button>
  </div>`;
}

function ProviderCard({ template: t, rows, api, orgId, showOrg, orgName, oauthBusy, onConnect, onOAuth, onSettings, onSyncs, onChanged }) {
  const headingId = `tpl-${t.id}`;
  // One integration per provider per organization (the API refuses a second).
  const canConnect = orgId !== undefined && t.isActive && !rows.some((r) => r.organizationId === orgId);
  return html`<article class="card integration-card" aria-labelledby=${headingId}>
    <header>
      <h2 id=${headingId}>${t.displayName}</h2>
      <span class="small muted">${t.category}</span>
      ${!t.isActive && html`<${Badge} status="inactive" label="not available" />`}
    </header>
    ${t.description && html`<p class="small muted">${t.description}</p>`}
    ${rows.length === 0 && html`<p class="small"><${Badge} status="none" label="not connected" /></p>`}
    ${rows.map(
      (row) =>
        html`<${IntegrationItem}
          key=${row.id}
          row=${row}
          api=${api}
          org=${showOrg ? orgName(row.organizationId) : null}
          canOAuth=${oauthReady(t)}
          keepsChannel=${Boolean(t.connect?.keepsWebhookChannel)}
          oauthBusy=${oauthBusy}
          onOAuth=${onOAuth}
          onSettings=${() => onSettings(row)}
          onSyncs=${() => onSyncs(row)}
          onChanged=${onChanged}
        />`,
    )}
    ${
      canConnect &&
      html`<div class="actions">
        ${byForm(t) && html`<button type="button" class="primary" onClick=${onConnect}>Connect</button>`}
        ${
          oauthReady(t) &&
          html`<button type="button" class=${byForm(t) ? '' : 'primary'} disabled=${oauthBusy} onClick=${onOAuth}>
            Connect with OAuth
          </button>`
        }
      </div>`
    }
  </article>`;
}

function IntegrationItem({ row, api, org, canOAuth, keepsChannel, oauthBusy, onOAuth, onSettings, onSyncs, onChanged }) {
  const action = useAction();
  const [confirming, setConfirming] = useState(false);

  /** Test and reconnect answer 200 with success false when the CRM refuses: shown as an error. */
  const check = (path) =>
    action.run(
      async () => {
        const r = await api.post(`/integrations/${row.id}/${path}`);
        onChanged(null);
        if (!r.success) throw new Error(r.message);
        return r;
      },
      (r) => r.message,
    );

  return html`<section class="integration" aria-label=${`${row.name} (#${row.id})`}>
    <div class="row">
      <strong>${row.name}</strong>
      <${Badge} status=${row.status} />
      ${org && html`<span class="small muted">${org}</span>`}
    </div>
    <dl class="facts small">
      <dt>Last sync</dt>
      <dd title=${row.lastSyncAt ? fmtDate(row.lastSyncAt) : undefined}>${fmtAgo(row.lastSyncAt)}</dd>
      <dt>Last test</dt>
      <dd title=${row.lastTestedAt ? fmtDate(row.lastTestedAt) : undefined}>${fmtAgo(row.lastTestedAt)}</dd>
      ${
        row.errorMessage &&
        html`<dt>Last error</dt>
          <dd class="field-error">${row.errorMessage}</dd>`
      }
      ${keepsChannel && html`<${ChannelFact} api=${api} row=${row} />`}
    </dl>
    <div class="actions">
      ${row.status !== 'disconnected' && html`<button type="button" disabled=${action.busy} onClick=${() => check('test')}>Test</button>`}
      ${
        row.status === 'active' &&
        html`<button
          type="button"
          disabled=${action.busy}
          onClick=${() =>
            action.run(async () => {
              await api.post(`/integrations/${row.id}/disconnect`);
              onChanged(null);
            }, `${row.name} is disconnected. Reconnect tests it and makes it active again.`)}
        >
          Disconnect
        </button>`
      }
      ${row.status === 'disconnected' && html`<button type="button" disabled=${action.busy} onClick=${() => check('reconnect')}>Reconnect</button>`}
      ${
        canOAuth &&
        (row.status === 'error' || row.status === 'disconnected') &&
        html`<button type="button" disabled=${oauthBusy} onClick=${onOAuth}>Authorize again</button>`
      }
      <button type="button" onClick=${onSettings}>Settings</button>
      <button type="button" onClick=${onSyncs}>Syncs</button>
      <button type="button" class="danger" disabled=${action.busy} onClick=${() => setConfirming(true)}>Delete</button>
    </div>
    ${
      confirming &&
      html`<${ConfirmDelete}
        name=${row.name}
        busy=${action.busy}
        onCancel=${() => setConfirming(false)}
        onConfirm=${() =>
          action.run(async () => {
            await api.del(`/integrations/${row.id}`);
            setConfirming(false);
            onChanged(`${row.name} was deleted.`);
          })}
      />`
    }
    <${ActionResult} action=${action} />
  </section>`;
}

/**
 * The webhook channel the service keeps open at the CRM (Zoho's watch channel): until when,
 * or why not. Null means the service keeps none yet (no PUBLIC_BASE_URL, or not active).
 */
function ChannelFact({ api, row }) {
  const state = useAsync(async () => (await api.get(`/integrations/${row.id}/webhook-channel`)).data, [row.id, row.status, row.updatedAt]);
  const c = state.data;
  let text;
  let failing = false;
  if (state.loading && c === undefined) text = '…';
  else if (state.error) [text, failing] = [state.error.message, true];
  else if (!c)
    text =
      row.status === 'active' ? 'not kept: the service has no public address (PUBLIC_BASE_URL)' : 'opened once the integration is active';
  else if (c.lastError) [text, failing] = [`not open: ${c.lastError} (next try ${fmtDate(c.nextAttemptAt)})`, true];
  else if (c.expiresAt) text = `open until ${fmtDate(c.expiresAt)}, renewed ${fmtDate(c.nextAttemptAt)}`;
  else text = 'opening within 10 minutes';
  return html`<dt>Webhook channel</dt>
    <dd class=${failing ? 'field-error' : undefined}>${text}</dd>`;
}

/** The in-page confirmation of a delete; focus starts on Cancel, the safe choice. */
function ConfirmDelete({ name, busy, onCancel, onConfirm }) {
  const cancel = useFocusOnMount();
  return html`<div class="alert error confirm" role="alertdialog" aria-label=${`Delete ${name}?`}>
    <p>Delete ${name}? Its config and sealed credentials are removed; this cannot be undone.</p>
    <div class="row">
      <button type="button" class="danger" disabled=${busy} onClick=${onConfirm}>Yes, delete</button>
      <button type="button" ref=${cancel} onClick=${onCancel}>Cancel</button>
    </div>
  </div>`;
}

/** Focuses what a panel opens with (its heading), so keyboard and screen reader users land on it. */
function useFocusOnMount() {
  const ref = useRef(null);
  useEffect(() => {
    ref.current?.focus();
    ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, []);
  return ref;
}

/** The generated fields in two groups: the connection, then direction and mapping. */
function ConfigFields({ schema, values, setValues, errors, idPrefix, editing }) {
  const { connection, sync } = splitSchema(schema);
  return html`<${SchemaFields}
      schema=${connection}
      values=${values}
      onChange=${setValues}
      errors=${errors}
      idPrefix=${idPrefix}
      editing=${editing}
    />
    ${
      sync &&
      html`<fieldset class="sync-settings">
        <legend>Direction and field mapping</legend>
        <${SchemaFields} schema=${sync} values=${values} onChange=${setValues} errors=${errors} idPrefix=${idPrefix} editing=${editing} />
      </fieldset>`
    }`;
}

/**
 * A connect or settings form's state: the name, the generated fields' values, the submit
 * action, the heading to focus, and the server's errors split into the name's, the fields'
 * (byField) and the others.
 */
function useIntegrationForm(schema, initialName, current) {
  const [name, setName] = useState(initialName);
  const [values, setValues] = useState(() => initialValues(schema, current));
  const action = useAction();
  const heading = useFocusOnMount();
  const { byField, rest } = placeErrors(action.error, schema);
  const nameError = rest.find((d) => d.path === 'body.name')?.message;
  const others = rest.filter((d) => d.path !== 'body.name');
  return { name, setName, values, setValues, action, heading, byField, nameError, others };
}

function ConnectForm({ api, template: t, orgId, isAdmin, onCancel, onCreated }) {
  const schema = formSchemaOf(t);
  const { name, setName, values, setValues, action, heading, byField, nameError, others } = useIntegrationForm(schema, t.displayName);

  async function submit(e) {
    e.preventDefault();
    const view = await action.run(async () => {
      const body = { templateId: t.id, name, config: configOf(schema, values) };
      if (isAdmin) body.organizationId = orgId;
      return (await api.post('/integrations', body)).data;
    });
    if (view) onCreated(view);
  }

  return html`<section class="panel connect-panel" aria-labelledby="connect-heading">
    <h2 id="connect-heading" tabindex="-1" ref=${heading}>Connect ${t.displayName}</h2>
    ${
      t.setupInstructions &&
      html`<details>
        <summary>Setup instructions</summary>
        <pre>${t.setupInstructions}</pre>
      </details>`
    }
    <form novalidate onSubmit=${submit}>
      <${NameField} id="connect-name" value=${name} onInput=${setName} error=${nameError} />
      <${ConfigFields} schema=${schema} values=${values} setValues=${setValues} errors=${byField} idPrefix="connect" editing=${false} />
      <${ErrorBox} error=${action.error && { message: action.error.message, details: others }} />
      <div class="row">
        <button type="submit" class="primary" disabled=${action.busy}>${action.busy ? 'Connecting…' : `Connect ${t.displayName}`}</button>
        <button type="button" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  </section>`;
}

/** The integration's name, with the server's error for it (body.name) at the field. */
function NameField({ id, value, onInput, error }) {
  return html`<${Field} id=${id} label="Name" error=${error}>
    <input
      id=${id}
      type="text"
      required
      value=${value}
      onInput=${(e) => onInput(e.target.value)}
      aria-invalid=${error ? 'true' : undefined}
      aria-describedby=${error ? `${id}-error` : undefined}
    />
  </${Field}>`;
}

function SettingsForm({ api, row, template: t, onCancel, onSaved }) {
  const schema = formSchemaOf(t);
  const { name, setName, values, setValues, action, heading, byField, nameError, others } = useIntegrationForm(
    schema,
    row.name,
    row.config,
  );

  async function submit(e) {
    e.preventDefault();
    const view = await action.run(async () => {
      // PATCH merges the config: secrets left blank are not sent, so they stay as they are.
      const body = { config: configOf(schema, values, { original: row.config }) };
      if (name !== row.name) body.name = name;
      return (await api.patch(`/integrations/${row.id}`, body)).data;
    });
    if (view) onSaved(view);
  }

  return html`<section class="panel settings-panel" aria-labelledby="settings-heading">
    <h2 id="settings-heading" tabindex="-1" ref=${heading}>Settings of ${row.name}</h2>
    <p class="small muted">
      ${t?.displayName ?? row.provider} · <${Badge} status=${row.status} /> · Secrets are never shown again: leave them blank to keep them.
    </p>
    <form novalidate onSubmit=${submit}>
      <${NameField} id="settings-name" value=${name} onInput=${setName} error=${nameError} />
      <${ConfigFields} schema=${schema} values=${values} setValues=${setValues} errors=${byField} idPrefix="settings" editing=${true} />
      <${ErrorBox} error=${action.error && { message: action.error.message, details: others }} />
      <div class="row">
        <button type="submit" class="primary" disabled=${action.busy}>${action.busy ? 'Saving…' : 'Save settings'}</button>
        <button type="button" onClick=${onCancel}>Cancel</button>
      </div>
    </form>
  </section>`;
}
