import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { ErrorDetail } from '../../lib/errors';

type Schema = Record<string, unknown>;

type Props = Record<string, { format?: string; writeOnly?: boolean; readOnly?: boolean; type?: unknown } | undefined>;
const propsOf = (schema: Schema) => (schema.properties ?? {}) as Props;

/**
 * Names that are credentials whatever a template's schema says (seed 002 encrypts them by
 * name): a template that forgets `format: password` must not store a token in clear.
 */
const SECRET_NAME = /(secret|password|passwd|token|api[-_]?key|client[-_]?id|private[-_]?key|credential|signing[-_]?key)/i;

export const isSecretName = (field: string) => SECRET_NAME.test(field);

type Prop = Props[string];
/** A property that holds a secret: marked so (`"format": "password"`, `"writeOnly": true`) or a string named so. */
const isSecretProperty = (k: string, p: Prop) =>
  p?.format === 'password' || p?.writeOnly === true || (isSecretName(k) && (p?.type ?? 'string') === 'string');

/** Top-level fields that are secret: marked so (`"format": "password"`, `"writeOnly": true`) or named so. */
export function secretFields(schema: Schema): string[] {
  return Object.entries(propsOf(schema))
    .filter(([k, p]) => isSecretProperty(k, p))
    .map(([k]) => k);
}

/** Top-level fields the service sets itself (`readOnly: true`): a caller may send them only unchanged. */
export function readOnlyFields(schema: Schema): string[] {
  return Object.entries(propsOf(schema))
    .filter(([, p]) => p?.readOnly === true)
    .map(([k]) => k);
}

// Keywords whose values are data, not schemas: a `properties` key inside a default is no field.
const DATA_KEYWORDS = new Set(['default', 'examples', 'const', 'enum', 'title', 'description']);

/**
 * Secret properties anywhere but among the root's own `properties` (inside a nested object,
 * an array's items, a combinator or a definition). The service seals top-level fields only,
 * so such a field would be stored and returned in clear: a template declaring one is refused.
 */
export function nestedSecretPaths(schema: Schema): string[] {
  const found: string[] = [];
  const walk = (node: unknown, path: string, root: boolean): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => walk(n, `${path}.${i}`, false));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node as Schema)) {
      if (DATA_KEYWORDS.has(key)) continue;
      if (key === 'properties' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [k, p] of Object.entries(value as Props)) {
          if (!root && typeof p === 'object' && p !== null && isSecretProperty(k, p)) found.push(`${path}.properties.${k}`);
          walk(p, `${path}.properties.${k}`, false);
        }
      } else walk(value, `${path}.${key}`, false);
    }
  };
  walk(schema, 'body.configSchema', true);
  return found;
}

/** Top-level fields holding a URL the service will call (`format: uri`/`url`, or named …Url). */
export function urlFields(schema: Schema): string[] {
  return Object.entries(propsOf(schema))
    .filter(([k, p]) => p?.format === 'uri' || p?.format === 'url' || /url$/i.test(k))
    .map(([k]) => k);
}

/** JSON Schema checks through Ajv: of templates' schemas, and of integrations' configs against them. */
export class ConfigValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    // addUsedSchema off: Ajv would keep every compiled schema's $id, so the next compile of a
    // template with that $id (a new version, another template) would fail as a duplicate.
    this.ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, addUsedSchema: false });
    addFormats(this.ajv);
    // Marks a secret; any string is a valid password.
    this.ajv.addFormat('password', true);
  }

  /** Problems with a template's schema itself (it must be an object schema Ajv can compile). */
  checkSchema(schema: unknown): ErrorDetail[] {
    if (typeof schema !== 'object' || schema === null || (schema as Schema).type !== 'object') {
      return [{ path: 'body.configSchema', message: 'must be a JSON Schema with "type": "object"' }];
    }
    const nested = nestedSecretPaths(schema as Schema).map((path) => ({
      path,
      message: 'is a secret below the top level; only top-level fields are sealed, so a secret must be a top-level field',
    }));
    if (nested.length) return nested;
    try {
      this.ajv.compile(schema as Schema);
      return [];
    } catch (err) {
      return [{ path: 'body.configSchema', message: `is not a valid JSON Schema: ${(err as Error).message}` }];
    }
  }

  /** A copy of `config` with the schema's defaults filled in, or every problem found. */
  validate(cacheKey: string, schema: Schema, config: Record<string, unknown>): { value: Record<string, unknown>; errors: ErrorDetail[] } {
    let validate = this.compiled.get(cacheKey);
    if (!validate) {
      try {
        validate = this.ajv.compile(schema);
      } catch (err) {
        // Templates are checked when written; this is one stored before a check existed.
        return {
          value: config,
          errors: [
            { path: 'body.config', message: `cannot be checked: the template's schema does not compile (${(err as Error).message})` },
          ],
        };
      }
      this.compiled.set(cacheKey, validate);
    }
    const value = structuredClone(config);
    const ok = validate(value);
    return { value, errors: ok ? [] : (validate.errors ?? []).map(toDetail) };
  }
}

function toDetail(e: ErrorObject): ErrorDetail {
  const field =
    e.keyword === 'required'
      ? `/${(e.params as { missingProperty: string }).missingProperty}`
      : e.keyword === 'additionalProperties'
        ? `/${(e.params as { additionalProperty: string }).additionalProperty}`
        : e.instancePath;
  const message = e.keyword === 'additionalProperties' ? 'is not a field of this integration' : (e.message ?? 'is invalid');
  return { path: `body.config${field.replace(/\//g, '.')}`, message };
}
