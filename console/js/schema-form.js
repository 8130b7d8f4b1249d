// A form generated from a template's config JSON Schema (seed 002: "no hardcoded forms").
// The server validates with Ajv; this form only collects values and puts Ajv's errors back at
// their fields, so nothing here repeats the schema's rules (the form is `novalidate`).
import { Field, html } from './components.js';

const typesOf = (p) => (Array.isArray(p?.type) ? p.type : p?.type ? [p.type] : []);

/**
 * A template's config schema with the names of the fields the service seals
 * (`connect.secretFields` of GET /api/integration-templates: marked so, or named like a
 * credential), which the form shows as password fields and never fills in.
 */
export function formSchemaOf(template) {
  return { ...(template?.configSchema ?? { type: 'object', properties: {} }), 'x-secret-fields': template?.connect?.secretFields ?? [] };
}

/** A top-level field the server stores sealed and only ever shows masked. */
export function isSecretField(schema, name) {
  return (schema?.['x-secret-fields'] ?? []).includes(name);
}

/** What kind of control a property gets. */
function kindOf(p) {
  const types = typesOf(p);
  if (Array.isArray(p?.enum)) return 'enum';
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('array')) return Array.isArray(p.items?.enum) ? 'enumList' : 'lines';
  if (types.includes('object')) return p.properties ? 'object' : 'map';
  if (types.length > 0 && types.every((t) => t === 'number' || t === 'integer')) return 'number';
  return 'string';
}

/**
 * The schema's properties in the order a person fills them: required ones first (in `required`
 * order), then those without a default, then the tuning ones with a default. The stored
 * schema's own key order is not kept (PostgreSQL's jsonb orders keys by length).
 */
function propsOf(schema) {
  const entries = Object.entries(schema?.properties ?? {});
  // A caller's own order (the integrations page's direction-and-mapping group).
  const order = schema?.['x-order'];
  if (Array.isArray(order)) return entries.sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  const required = schema?.required ?? [];
  const rank = ([name, p]) => (required.includes(name) ? required.indexOf(name) - required.length : p?.default === undefined ? 1 : 2);
  return entries
    .map((e, i) => [e, i])
    .sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j)
    .map(([e]) => e);
}

/**
 * The form's state for a schema: the stored value where there is one (`current`, an
 * integration's masked config), else the schema's default. Secrets always start blank.
 */
export function initialValues(schema, current = {}, top = true) {
  const out = {};
  for (const [name, p] of propsOf(schema)) {
    const has = current && Object.prototype.hasOwnProperty.call(current, name) && current[name] !== null;
    const v = has ? current[name] : p.default;
    switch (kindOf(p)) {
      case 'boolean':
        out[name] = v === undefined ? false : Boolean(v);
        break;
      case 'enumList':
        out[name] = Array.isArray(v) ? v.map(String) : [];
        break;
      case 'lines':
        out[name] = Array.isArray(v) ? v.join('\n') : '';
        break;
      case 'object':
        out[name] = initialValues(p, has ? current[name] : (p.default ?? {}), false);
        break;
      case 'map':
        out[name] = Object.fromEntries(
          Object.entries(v && typeof v === 'object' ? v : {}).map(([k, x]) => [k, x === null ? '' : String(x)]),
        );
        break;
      default:
        out[name] = top && isSecretField(schema, name) ? '' : v === undefined || v === null ? '' : String(v);
    }
  }
  return out;
}

/** A text a person typed for a number: the number, or the text itself so Ajv names the field. */
function numberOf(text) {
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

function valueOf(p, raw) {
  switch (kindOf(p)) {
    case 'boolean':
      return Boolean(raw);
    case 'enumList':
      return raw.length ? raw : undefined;
    case 'lines': {
      const items = String(raw)
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      const itemTypes = typesOf(p.items);
      return items.length ? items.map((s) => (itemTypes.length && !itemTypes.includes('string') ? numberOf(s) : s)) : undefined;
    }
    case 'object': {
      const o = configOf(p, raw, { top: false });
      return Object.keys(o).length ? o : undefined;
    }
    case 'map': {
      const entries = Object.entries(raw).filter(([, v]) => String(v).trim() !== '');
      return entries.length ? Object.fromEntries(entries.map(([k, v]) => [k, String(v).trim()])) : undefined;
    }
    case 'enum': {
      if (raw === '') return undefined;
      // An enum of numbers: the option's text back to its value.
      return p.enum.find((e) => String(e) === raw) ?? raw;
    }
    case 'number':
      return String(raw).trim() === '' ? undefined : numberOf(String(raw).trim());
    default: {
      const s = String(raw);
      if (s.trim() === '') return undefined;
      // ["string","integer"] (HubSpot's portalId): a string is accepted as it is.
      return s;
    }
  }
}

/**
 * The config to send. Creating: blank fields are left out (the server fills defaults).
 * Editing (`original` = the stored, masked config; PATCH merges): a blank secret is left out
 * (kept as it is), a field emptied that had a value is sent as null (removed), the rest is sent.
 */
export function configOf(schema, values, { original, top = true } = {}) {
  const out = {};
  for (const [name, p] of propsOf(schema)) {
    // Set by the service (JSON Schema's readOnly): never sent back.
    if (p.readOnly) continue;
    const v = valueOf(p, values[name]);
    if (v !== undefined) out[name] = v;
    else if (original && !(top && isSecretField(schema, name)) && original[name] !== undefined && original[name] !== null) out[name] = null;
  }
  return out;
}

/**
 * Where the API's validation errors belong: `body.config.apiKey` → field path `apiKey`,
 * `body.config.pushMapping.email` → `pushMapping.email`. Returns { byField, rest }.
 */
export function placeErrors(error, schema, prefix = 'body.config') {
  const byField = {};
  const rest = [];
  const known = new Set(fieldPaths(schema));
  for (const d of Array.isArray(error?.details) ? error.details : []) {
    const path = typeof d.path === 'string' && d.path.startsWith(`${prefix}.`) ? d.path.slice(prefix.length + 1) : null;
    // Ajv names the missing property in its message; at the field itself that is just "required".
    const message = /^must have required property /.test(d.message) ? 'is required' : d.message;
    if (path !== null && known.has(path)) byField[path] = byField[path] ? `${byField[path]}; ${message}` : message;
    else rest.push(d);
  }
  return { byField, rest };
}

/** Every path the form renders a control or group for. */
function fieldPaths(schema, prefix = '') {
  const out = [];
  for (const [name, p] of propsOf(schema)) {
    const path = prefix + name;
    out.push(path);
    const kind = kindOf(p);
    if (kind === 'object') out.push(...fieldPaths(p, `${path}.`));
    if (kind === 'map') for (const k of p.propertyNames?.enum ?? []) out.push(`${path}.${k}`);
  }
  return out;
}

const idOf = (prefix, path) => `${prefix}-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;

/** aria-describedby for a control: its hint and its error, when they are shown. */
function describedBy(id, hint, error) {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

function Label({ title, required }) {
  return html`${title}${required && html`<span class="required" aria-hidden="true"> *</span>`}`;
}

/**
 * The generated fields. `values`/`onChange(values)` hold the state from initialValues();
 * `errors` maps field paths to messages (placeErrors().byField); `editing` adds "leave blank
 * to keep" to secrets.
 */
export function SchemaFields({ schema, values, onChange, errors = {}, idPrefix, editing = false, path = '', top = true }) {
  const required = new Set(schema?.required ?? []);
  const set = (name, v) => onChange({ ...values, [name]: v });
  return propsOf(schema).map(([name, p]) => {
    const fieldPath = path + name;
    const id = idOf(idPrefix, fieldPath);
    const title = p.title ?? name;
    const error = errors[fieldPath];
    const secret = top && isSecretField(schema, name);
    const isRequired = required.has(name) && !(editing && secret);
    const hint =
      [p.description, secret && editing ? 'Stored sealed; leave blank to keep the current value.' : null].filter(Boolean).join(' ') ||
      undefined;
    const aria = { 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': describedBy(id, hint, error) };
    const value = values?.[name];
    const kind = kindOf(p);

    // Set by the service (JSON Schema's readOnly): shown once it has a value, never an input.
    if (p.readOnly) {
      return editing && value !== undefined && value !== ''
        ? html`<div class="field" key=${fieldPath}>
            <span class="label" id=${`${id}-label`}>${title}</span>
            <output aria-labelledby=${`${id}-label`}>${String(value)}</output>
            ${hint && html`<span class="hint">${hint}</span>`}
          </div>`
        : null;
    }

    if (kind === 'boolean') {
      return html`<div class="field" key=${fieldPath}>
        <label class="check" for=${id}>
          <input id=${id} type="checkbox" checked=${Boolean(value)} onChange=${(e) => set(name, e.target.checked)} ...${aria} />
          ${title}
        </label>
        ${hint && html`<span class="hint" id=${`${id}-hint`}>${hint}</span>`}
        ${error && html`<span class="error" id=${`${id}-error`} role="alert">${error}</span>`}
      </div>`;
    }

    if (kind === 'object' || kind === 'map' || kind === 'enumList') {
      return html`<fieldset key=${fieldPath} aria-describedby=${describedBy(id, hint, error)} aria-invalid=${error ? 'true' : undefined}>
        <legend><${Label} title=${title} required=${isRequired} /></legend>
        ${hint && html`<p class="hint small muted" id=${`${id}-hint`}>${hint}</p>`}
        ${error && html`<p class="field-error" id=${`${id}-error`} role="alert">${error}</p>`}
        ${
          kind === 'object' &&
          html`<${SchemaFields}
            schema=${p}
            values=${value ?? {}}
            onChange=${(v) => set(name, v)}
            errors=${errors}
            idPrefix=${idPrefix}
            editing=${editing}
            path=${`${fieldPath}.`}
            top=${false}
          />`
        }
        ${
          kind === 'enumList' &&
          html`<div class="row">
            ${p.items.enum.map((option) => {
              const checked = (value ?? []).includes(String(option));
              return html`<label class="check" key=${option}>
                <input
                  type="checkbox"
                  checked=${checked}
                  onChange=${(e) =>
                    set(name, e.target.checked ? [...(value ?? []), String(option)] : (value ?? []).filter((x) => x !== String(option)))}
                />
                ${String(option)}
              </label>`;
            })}
          </div>`
        }
        ${kind === 'map' && html`<${MapFields} p=${p} value=${value ?? {}} onChange=${(v) => set(name, v)} errors=${errors} id=${id} path=${fieldPath} />`}
      </fieldset>`;
    }

    let control;
    if (kind === 'enum') {
      control = html`<select id=${id} value=${value ?? ''} onChange=${(e) => set(name, e.target.value)} required=${isRequired} ...${aria}>
        ${(!isRequired || value === '') && html`<option value="">(not set)</option>`}
        ${p.enum.map((option) => html`<option key=${String(option)} value=${String(option)}>${String(option)}</option>`)}
      </select>`;
    } else if (kind === 'lines') {
      control = html`<textarea
        id=${id}
        value=${value ?? ''}
        onInput=${(e) => set(name, e.target.value)}
        required=${isRequired}
        ...${aria}
      ></textarea>`;
    } else {
      const integer = typesOf(p).includes('integer') && !typesOf(p).includes('number');
      const type = secret ? 'password' : kind === 'number' ? 'number' : p.format === 'uri' || p.format === 'url' ? 'url' : 'text';
      control = html`<input
        id=${id}
        type=${type}
        step=${kind === 'number' ? (integer ? '1' : 'any') : undefined}
        autocomplete=${secret ? 'new-password' : 'off'}
        value=${value ?? ''}
        onInput=${(e) => set(name, e.target.value)}
        required=${isRequired}
        ...${aria}
      />`;
    }
    return html`<${Field}
      key=${fieldPath}
      id=${id}
      label=${html`<${Label} title=${title} required=${isRequired} />`}
      hint=${hint}
      error=${error}
      >${control}</${Field}
    >`;
  });
}

/**
 * An object whose keys are fixed (propertyNames.enum: our fields) and whose values name the
 * other side's fields (a push mapping): one input per key, its known values suggested.
 * Blank leaves the key out (the provider's default applies).
 */
function MapFields({ p, value, onChange, errors, id, path }) {
  const keys = p.propertyNames?.enum ?? Object.keys(value);
  const branches = p.additionalProperties?.anyOf ?? [p.additionalProperties ?? {}];
  const suggestions = branches.flatMap((b) => (Array.isArray(b?.enum) ? b.enum : []));
  const listId = `${id}-options`;
  return html`<div class="map-fields">
    ${
      suggestions.length > 0 &&
      html`<datalist id=${listId}>${suggestions.map((s) => html`<option key=${s} value=${s}></option>`)}</datalist>`
    }
    ${keys.map((k) => {
      const kid = `${id}-${k}`;
      const error = errors[`${path}.${k}`];
      return html`<${Field} key=${k} id=${kid} label=${k} error=${error}>
        <input
          id=${kid}
          type="text"
          list=${suggestions.length ? listId : undefined}
          placeholder="(default)"
          value=${value[k] ?? ''}
          onInput=${(e) => onChange({ ...value, [k]: e.target.value })}
          aria-invalid=${error ? 'true' : undefined}
          aria-describedby=${error ? `${kid}-error` : undefined}
        />
      </${Field}>`;
    })}
  </div>`;
}
