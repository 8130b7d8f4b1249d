// Shared pieces of the console's pages: rendering (htm over Preact), data loading, badges,
// tables, errors, charts and formatting.
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

/** Loads with `fn` when `deps` change; `reload()` loads again. Errors are kept, not thrown. */
export function useAsync(fn, deps) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    return Promise.resolve()
      .then(fn)
      .then(
        (data) => mine === seq.current && setState({ data, error: null, loading: false }),
        (error) => mine === seq.current && setState((s) => ({ data: s.data, error, loading: false })),
      );
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { ...state, reload: run };
}

/** Calls `fn` every `ms` while `active` (live progress); stops when it turns false. */
export function useInterval(fn, ms, active) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return undefined;
    const t = setInterval(() => saved.current(), ms);
    return () => clearInterval(t);
  }, [ms, active]);
}

/** An action button's state: running, and the last error or success message. */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: null, message: null });
  const run = useCallback(async (fn, success) => {
    setState({ busy: true, error: null, message: null });
    try {
      const result = await fn();
      setState({ busy: false, error: null, message: typeof success === 'function' ? success(result) : (success ?? null) });
      return result;
    } catch (error) {
      setState({ busy: false, error, message: null });
      return undefined;
    }
  }, []);
  return { ...state, run, clear: () => setState({ busy: false, error: null, message: null }) };
}

const TONE = {
  ok: ['active', 'connected', 'completed', 'success', 'succeeded', 'delivered', 'processed', 'ok', 'enabled'],
  bad: ['error', 'failed', 'failure', 'dead', 'disabled_by_failures', 'expired', 'revoked'],
  warn: ['partial', 'retrying', 'pending_retry', 'stale', 'needs_reauth', 'skipped'],
  info: ['running', 'pending', 'queued', 'in_progress', 'received', 'processing'],
};

/** A status as a coloured pill (its word is always shown: colour is never the only cue). */
export function Badge({ status, label }) {
  const s = String(status ?? 'unknown').toLowerCase();
  const tone = Object.keys(TONE).find((t) => TONE[t].includes(s)) ?? '';
  return html`<span class=${`badge ${tone}`}>${label ?? String(status ?? 'unknown').replace(/_/g, ' ')}</span>`;
}

/** An API error (or any error) with the fields it names. */
export function ErrorBox({ error }) {
  if (!error) return null;
  const details = Array.isArray(error.details) ? error.details : [];
  return html`<div class="alert error" role="alert">
    <strong>${error.message ?? String(error)}</strong>
    ${
      details.length > 0 &&
      html`<ul>
        ${details.map((d) => html`<li><code>${d.path}</code>: ${d.message}</li>`)}
      </ul>`
    }
  </div>`;
}

export function Notice({ kind = 'success', children }) {
  if (!children) return null;
  return html`<div class=${`alert ${kind}`} role="status">${children}</div>`;
}

/** An action's outcome under its buttons. */
export function ActionResult({ action }) {
  return html`<${ErrorBox} error=${action.error} /><${Notice}>${action.message}</${Notice}>`;
}

/**
 * A table: `columns` are { label, render(row), num? }. `caption` names it for screen readers.
 */
export function Table({ columns, rows, empty = 'Nothing yet.', caption, rowKey = (r) => r.id }) {
  if (!rows || rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<div class="table-wrap">
    <table>
      ${
        caption &&
        html`<caption class="sr-only">
          ${caption}
        </caption>`
      }
      <thead>
        <tr>
          ${columns.map((c) => html`<th scope="col" class=${c.num ? 'num' : ''}>${c.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr key=${rowKey(r)}>
              ${columns.map((c) => html`<td class=${c.num ? 'num' : ''}>${c.render(r)}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** Page-number paging from the API's `pagination` ({ page, limit, total, totalPages? }). */
export function Pager({ pagination, onPage }) {
  if (!pagination) return null;
  const { page, limit, total } = pagination;
  const pages = pagination.totalPages ?? Math.max(1, Math.ceil((total ?? 0) / (limit || 1)));
  const more = pagination.totalRelation === 'gte';
  return html`<nav class="row small" aria-label="Pages">
    <button type="button" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>Previous</button>
    <span>Page ${page} of ${pages}${more ? '+' : ''} (${fmtNumber(total)}${more ? '+' : ''} in all)</span>
    <button type="button" disabled=${page >= pages && !more} onClick=${() => onPage(page + 1)}>Next</button>
  </nav>`;
}

/**
 * Stacked bars over time: `points` are { label, values: { [series]: n } }; `series` are
 * { key, label, tone } with tone one of ok, bad, info, warn, muted. A table of the same
 * figures follows for screen readers.
 */
export function BarChart({ title, points, series, height = 140 }) {
  if (!points || points.length === 0) return html`<p class="muted">No data to chart yet.</p>`;
  const width = 640;
  const pad = 24;
  const max = Math.max(1, ...points.map((p) => series.reduce((n, s) => n + (p.values[s.key] ?? 0), 0)));
  const slot = (width - pad) / points.length;
  const bar = Math.max(2, Math.min(36, slot * 0.7));
  return html`<figure class="chart" aria-label=${title}>
    <svg viewBox=${`0 0 ${width} ${height + 20}`} role="img" aria-label=${title}>
      <line x1=${pad} y1=${height} x2=${width} y2=${height} stroke="#d5dae1" />
      <text x="0" y="10" font-size="10" fill="#545d68">${fmtNumber(max)}</text>
      ${points.map((p, i) => {
        let y = height;
        const x = pad + i * slot + (slot - bar) / 2;
        return html`<g key=${i}>
          <title>${p.label}: ${series.map((s) => `${s.label} ${fmtNumber(p.values[s.key] ?? 0)}`).join(', ')}</title>
          ${series.map((s) => {
            const v = p.values[s.key] ?? 0;
            const hgt = (v / max) * (height - 14);
            y -= hgt;
            return v > 0 ? html`<rect class=${`c-${s.tone}`} x=${x} y=${y} width=${bar} height=${hgt} />` : null;
          })}
        </g>`;
      })}
    </svg>
    <figcaption class="legend">
      <strong>${title}</strong>
      ${series.map((s) => html`<span><i class=${`c-${s.tone}`}></i>${s.label}</span>`)}
    </figcaption>
    <table class="sr-only">
      <caption>
        ${title}
      </caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          ${series.map((s) => html`<th scope="col">${s.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${points.map(
          (p) =>
            html`<tr>
              <th scope="row">${p.label}</th>
              ${series.map((s) => html`<td>${fmtNumber(p.values[s.key] ?? 0)}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}

/** A labelled form field: the label points at the control, errors are tied to it. */
export function Field({ id, label, hint, error, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children} ${hint && html`<span class="hint" id=${`${id}-hint`}>${hint}</span>`}
    ${error && html`<span class="error" id=${`${id}-error`} role="alert">${error}</span>`}
  </div>`;
}

const numberFormat = new Intl.NumberFormat('en-US');
export const fmtNumber = (n) => (n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : numberFormat.format(Number(n)));

export function fmtDate(value) {
  if (!value) return '–';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

export function fmtAgo(value) {
  if (!value) return 'never';
  const s = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
