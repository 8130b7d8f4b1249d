import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { ErrorDetail } from '../../lib/errors';

type Schema = Record<string, unknown>;

type Props = Record<string, { format?: string; writeOnly?: boolean; type?: unknown } | undefined>;
const propsOf = (schema: Schema) => (schema.properties ?? {}) as Props;

/**
 * Names that are credentials whatever a template's schema says (seed 002 encrypts them by
 * name): a template that forgets `format: password` must not store a token in clear.
 */
const SECRET_NAME = /(secret|password|passwd|token|api[-_]?key|client[-_]?id|private[-_]?key|credential|signing[-_]?key)/i;

export const isSecretName = (field: string) => SECRET_NAME.test(field);

/** Top-level fields that are secret: marked so (`"format": "password"`, `"writeOnly": true`) or named so. */
export function secretFields(schema: Schema): string[] {
  return Object.entries(propsOf(schema))
    .filter(([k, p]) => p?.format === 'password' || p?.writeOnly === true || (isSecretName(k) && (p?.type ?? 'string') === 'string'))
    .map(([k]) => k);
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
    this.ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    addFormats(this.ajv);
    // Marks a secret; any string is a valid password.
    this.ajv.addFormat('password', true);
  }

  /** Problems with a template's schema itself (it must be an object schema Ajv can compile). */
  checkSchema(schema: unknown): ErrorDetail[] {
    if (typeof schema !== 'object' || schema === null || (schema as Schema).type !== 'object') {
      return [{ path: 'body.configSchema', message: 'must be a JSON Schema with "type": "object"' }];
    }
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
      validate = this.ajv.compile(schema);
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
