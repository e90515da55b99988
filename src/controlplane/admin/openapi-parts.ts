// Builders for the OpenAPI document (openapi.ts): an operation with its answers, a JSON body, a schema reference.
// Every operation gets the answers any request can get: 403 (allow_admin), 500, and 401 unless it needs no key.
import { STATUS_CODES } from 'node:http';
import { ERRORS } from './errors.ts';

export type Json = Record<string, unknown>;
export type Operation = Json;

/** Paths and the component schemas they refer to, merged into the document. */
export interface DocPart {
  readonly paths: Readonly<Record<string, Json>>;
  readonly schemas: Readonly<Record<string, Json>>;
}

export interface OperationSpec {
  readonly summary: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly Json[];
  /** The requestBody object. */
  readonly body?: Json;
  /** Success answers by status: { description, content? }. */
  readonly ok?: Readonly<Record<number, Json>>;
  /** Error statuses this operation can answer with, each one of the catalog's (components/responses). */
  readonly errors: readonly number[];
  /** Answered without a key (no 401 from the key check). */
  readonly public?: boolean;
}

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: Json): Json => ({ 'application/json': { schema } });

const API_VERSION = { 'X-API-VERSION': { $ref: '#/components/headers/ApiVersion' } };

/** The catalog's error statuses and the components/responses name of each (400 → BadRequest). */
export function errorStatuses(): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of [...new Set(Object.values(ERRORS).map((e) => e.status))].sort((a, b) => a - b)) {
    out.set(s, (STATUS_CODES[s] ?? `Status${s}`).replace(/[^a-zA-Z0-9]/g, ''));
  }
  return out;
}

export function api(o: OperationSpec): Operation {
  const names = errorStatuses();
  const responses: Json = {};
  for (const [status, r] of Object.entries(o.ok ?? {})) responses[status] = { ...r, headers: API_VERSION };
  const errors = new Set([...o.errors, 403, 500, ...(o.public === true ? [] : [401])]);
  for (const s of [...errors].sort((a, b) => a - b)) {
    const name = names.get(s);
    if (name === undefined) throw new Error(`openapi: ${o.summary}: status ${s} is not in the error catalog`);
    responses[String(s)] = { $ref: `#/components/responses/${name}` };
  }
  return {
    summary: o.summary,
    tags: [...o.tags],
    ...(o.parameters !== undefined ? { parameters: [...o.parameters] } : {}),
    ...(o.body !== undefined ? { requestBody: o.body } : {}),
    responses,
    ...(o.public === true ? { security: [] } : {}),
  };
}
