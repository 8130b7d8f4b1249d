// The console: sign-in (an API key, or a tenant portal link), the page frame, and a hash
// router (#/integrations?org=3) so that every page has an address and Back works.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { createApi, loadSession, saveSession } from './api.js';
import { ErrorBox, html } from './components.js';
import IntegrationsPage from './pages/integrations.js';
import SyncsPage from './pages/syncs.js';
import WebhooksPage from './pages/webhooks.js';
import UsersPage from './pages/users.js';

const PAGES = [
  { path: 'integrations', title: 'Integrations', component: IntegrationsPage },
  { path: 'syncs', title: 'Syncs', component: SyncsPage },
  { path: 'webhooks', title: 'Webhooks', component: WebhooksPage },
  { path: 'users', title: 'Users', component: UsersPage },
];

/** #/syncs?org=3&integration=7 → { page: 'syncs', params: { org: '3', integration: '7' } } */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [page, query = ''] = raw.split('?');
  return { page: PAGES.some((p) => p.path === page) ? page : 'integrations', params: Object.fromEntries(new URLSearchParams(query)) };
}

function hashFor(page, params) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/**
 * What the OAuth callback appended on its way back, once: ?integrationId=…&status=… when it
 * connected, ?error=…&error_description=… when the provider or the exchange refused.
 */
function takeOAuthReturn() {
  const q = new URLSearchParams(location.search);
  if (!q.has('integrationId') && !q.has('error')) return null;
  const back = q.has('error')
    ? { error: q.get('error'), message: q.get('error_description') ?? q.get('error') }
    : { integrationId: q.get('integrationId'), status: q.get('status') };
  history.replaceState(null, '', location.pathname + (location.hash || '#/integrations'));
  return back;
}

function SignIn({ onSignedIn, problem }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(problem ?? null);
  const [busy, setBusy] = useState(false);
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = (await createApi(key.trim()).get('/me')).data;
      onSignedIn({ key: key.trim(), ...me });
    } catch (err) {
      setError(err.status === 401 ? { message: 'That API key is not valid (or has been revoked).' } : err);
    } finally {
      setBusy(false);
    }
  }
  return html`<main class="signin">
    <div class="panel">
      <h1>Sign in to the console</h1>
      <p class="muted">
        With an API key: an admin key sees every organization, an organization key only its own. The key stays in this browser tab until you
        sign out or close it.
      </p>
      <form onSubmit=${submit}>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autocomplete="off"
            required
            value=${key}
            onInput=${(e) => setKey(e.target.value)}
          />
        </div>
        <${ErrorBox} error=${error} />
        <button class="primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </div>
  </main>`;
}

/** An admin's organization scope: every organization, or one (searchable). */
function OrgPicker({ api, orgId, onChange }) {
  const [search, setSearch] = useState('');
  const [orgs, setOrgs] = useState([]);
  useEffect(() => {
    const t = setTimeout(() => {
      api
        .get('/organizations', { limit: 100, search: search || undefined })
        .then((r) => setOrgs(r.data))
        .catch(() => setOrgs([]));
    }, 200);
    return () => clearTimeout(t);
  }, [search]);
  const known = orgs.some((o) => String(o.id) === String(orgId));
  return html`<div class="row">
    <label for="org-search" class="sr-only">Find an organization</label>
    <input id="org-search" type="search" placeholder="Find organization" value=${search} onInput=${(e) => setSearch(e.target.value)} />
    <label for="org-scope" class="sr-only">Organization</label>
    <select id="org-scope" value=${orgId ?? ''} onChange=${(e) => onChange(e.target.value || undefined)}>
      <option value="">All organizations</option>
      ${!known && orgId && html`<option value=${orgId}>Organization ${orgId}</option>`}
      ${orgs.map((o) => html`<option value=${o.id}>${o.name} (#${o.id})</option>`)}
    </select>
  </div>`;
}

function Shell({ session, onSignOut }) {
  const route = useRoute();
  const [oauthBack] = useState(takeOAuthReturn);
  const api = createApi(session.key, () => onSignOut('Your session has ended: sign in again.'));
  const isAdmin = session.kind === 'admin';
  // An organization key or portal session is scoped by the server; the org in the hash is only a view filter for admins.
  const orgId = isAdmin ? route.params.org : String(session.organization.id);
  const navigate = (page, params = {}) => {
    location.hash = hashFor(page, { ...(isAdmin && orgId ? { org: orgId } : {}), ...params });
  };
  const setOrg = (org) => {
    location.hash = hashFor(route.page, { ...route.params, org });
  };
  const current = PAGES.find((p) => p.path === route.page);
  useEffect(() => {
    document.title = `${current.title} · CRM integration console`;
  }, [current]);
  const Page = current.component;
  const ctx = { api, session, isAdmin, orgId: orgId ? Number(orgId) : undefined, params: route.params, navigate, oauthBack };
  return html`<a class="skip" href="#main" onClick=${(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >Skip to content</a
    >
    <header class="top">
      <span class="brand">CRM integrations</span>
      <nav aria-label="Console">
        <ul>
          ${PAGES.map(
            (p) =>
              html`<li>
                <a
                  href=${hashFor(p.path, isAdmin && orgId ? { org: orgId } : {})}
                  aria-current=${p.path === route.page ? 'page' : undefined}
                  >${p.title}</a
                >
              </li>`,
          )}
        </ul>
      </nav>
      <div class="who">
        ${
          isAdmin
            ? html`<span class="small">Admin</span><${OrgPicker} api=${api} orgId=${orgId} onChange=${setOrg} />`
            : html`<span class="small" data-testid="scope"
                >${session.organization.name}${session.via === 'portal_session' ? ' (portal)' : ''}</span
              >`
        }
        <button type="button" class="link" onClick=${() => onSignOut()}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      <${Page} key=${`${route.page}:${orgId ?? ''}`} ...${ctx} />
    </main>`;
}

function App() {
  const [session, setSession] = useState(loadSession);
  const [problem, setProblem] = useState(null);
  const [opening, setOpening] = useState(() => /^#portal=/.test(location.hash));

  // A portal link: #portal=<token>. The token leaves the address bar at once, and opens its session (once).
  useEffect(() => {
    if (!opening) return;
    const token = location.hash.slice('#portal='.length);
    history.replaceState(null, '', `${location.pathname}#/integrations`);
    createApi(null)
      .post('/console/sessions', { token })
      .then(({ data }) => {
        const s = {
          key: data.sessionKey,
          kind: 'organization',
          via: 'portal_session',
          organization: { id: data.organizationId, name: data.organizationName },
          expiresAt: data.expiresAt,
        };
        saveSession(s);
        setSession(s);
      })
      .catch((err) => {
        saveSession(null);
        setSession(null);
        setProblem(err);
      })
      .finally(() => setOpening(false));
  }, []);

  function signedIn(s) {
    saveSession(s);
    setProblem(null);
    setSession(s);
  }
  function signOut(message) {
    if (session?.via === 'portal_session')
      createApi(session.key)
        .del('/console/sessions/current')
        .catch(() => {});
    saveSession(null);
    setSession(null);
    setProblem(message ? { message } : null);
  }

  if (opening) return html`<p class="boot" role="status">Opening the portal…</p>`;
  if (!session) return html`<${SignIn} onSignedIn=${signedIn} problem=${problem} />`;
  return html`<${Shell} session=${session} onSignOut=${signOut} />`;
}

const root = document.getElementById('app');
// The "Loading…" text is the page's own, not Preact's: it goes before the first render.
root.textContent = '';
render(html`<${App} />`, root);
