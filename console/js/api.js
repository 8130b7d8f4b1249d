// The console's one way to the API: fetch with the signed-in credential in x-api-key.
// The credential lives in sessionStorage: this tab only, gone when the browser session ends.

const STORE = 'crm-console-session';

/** The stored session: { key, kind, via, organization?, expiresAt? }, or null. */
export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) ?? 'null');
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) sessionStorage.setItem(STORE, JSON.stringify(session));
  else sessionStorage.removeItem(STORE);
}

/**
 * An API error answer ({ success: false, error: message, code, details: [{ path, message }] }):
 * status, code, message and the details naming what is wrong.
 */
export class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.error === 'string' ? body.error : (body?.message ?? `HTTP ${status}`));
    this.status = status;
    this.code = body?.code;
    this.details = Array.isArray(body?.details) ? body.details : [];
  }
}

function queryString(query) {
  if (!query) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * A client for one credential. `onUnauthorized` runs when the API answers 401 (a revoked key,
 * an ended portal session): the console signs out.
 */
export function createApi(key, onUnauthorized = () => {}) {
  async function call(method, path, { query, body } = {}) {
    const headers = { accept: 'application/json' };
    if (key) headers['x-api-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`../api${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { message: text.slice(0, 200) };
    }
    if (!res.ok) {
      const err = new ApiError(res.status, parsed);
      if (res.status === 401 && key) onUnauthorized(err);
      throw err;
    }
    return parsed;
  }
  return {
    get: (path, query) => call('GET', path, { query }),
    post: (path, body, query) => call('POST', path, { body: body ?? {}, query }),
    patch: (path, body) => call('PATCH', path, { body }),
    put: (path, body) => call('PUT', path, { body }),
    del: (path, query) => call('DELETE', path, { query }),
  };
}
