// GET /sluice/v1/openapi.json (CONTRACT §7): the OpenAPI 3.1 document of the Admin API (/apisix/admin/*) and Sluice's
// own API (/sluice/v1/*). It is built here from what the gateway runs on — the resource schemas it validates with
// (schema/apisix.ts), the plugins' metadata schemas, the error catalog (errors.ts) and the resources' unsupported
// methods — so none of it is a hand-made copy. The Admin API integration tests check every answer they receive
// against it (test/fixtures/openapi-check.ts): an undocumented status or a body that does not match fails the test.
import type { Schema } from '../../lib/jsonschema.ts';
import { ALL_PLUGINS } from '../../plugins/index.ts';
import { serviceSchema, sslSchema, streamRouteSchema, upstreamSchema } from '../schema/apisix.ts';
import { ERRORS } from './errors.ts';
import type { Method } from './resource.ts';
import { pluginMetadata } from './resources/plugin-metadata.ts';
import { services } from './resources/services.ts';
import { streamRoutes } from './resources/stream-routes.ts';
import { upstreams } from './resources/upstreams.ts';
import { api, errorStatuses, json, ref, type DocPart, type Json, type Operation } from './openapi-parts.ts';

/**
 * draft-04/07's `dependencies` becomes 2020-12's dependentRequired / dependentSchemas; the rest is kept as it is. A
 * sub-schema that is one of `shared` (the very object) becomes that reference (a route's inline upstream: Upstream).
 */
export function jsonSchema2020(s: Schema, shared: ReadonlyMap<Schema, Json> = new Map()): Json {
  const sub = (x: Schema): Json => shared.get(x) ?? jsonSchema2020(x, shared);
  const out: Json = {};
  for (const [k, v] of Object.entries(s) as [string, unknown][]) {
    if (k === 'dependencies') {
      const req: Record<string, string[]> = {};
      const sch: Record<string, Json> = {};
      for (const [name, d] of Object.entries(v as Record<string, readonly string[] | Schema>)) {
        if (Array.isArray(d)) req[name] = [...(d as readonly string[])];
        else sch[name] = sub(d as Schema);
      }
      if (Object.keys(req).length > 0) out.dependentRequired = req;
      if (Object.keys(sch).length > 0) out.dependentSchemas = sch;
    } else if (k === 'properties' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([n, p]) => [n, sub(p)]));
    } else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') {
      out[k] = (v as readonly Schema[]).map(sub);
    } else if (k === 'items' || k === 'not' || k === 'if' || k === 'then' || k === 'else' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = sub(v as Schema);
    } else {
      out[k] = structuredClone(v);
    }
  }
  return out;
}

const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'] as const;
const SUBSCHEMAS = ['if', 'then', 'else', 'not'] as const;

/** Drops `name` from an object schema's own level: its properties, every `required` and dependency that names it. */
function dropProperty(s: Json, name: string): Json {
  const out: Json = { ...s };
  if (out.properties !== undefined) {
    const { [name]: _gone, ...rest } = out.properties as Record<string, Json>;
    out.properties = rest;
  }
  if (Array.isArray(out.required)) out.required = (out.required as string[]).filter((r) => r !== name);
  if (out.dependentRequired !== undefined) {
    const { [name]: _gone, ...rest } = out.dependentRequired as Record<string, string[]>;
    out.dependentRequired = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v.filter((r) => r !== name)]));
  }
  if (out.dependentSchemas !== undefined) {
    const { [name]: _gone, ...rest } = out.dependentSchemas as Record<string, Json>;
    out.dependentSchemas = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, dropProperty(v, name)]));
  }
  for (const k of SUBSCHEMA_LISTS) if (Array.isArray(out[k])) out[k] = (out[k] as Json[]).map((x) => dropProperty(x, name));
  for (const k of SUBSCHEMAS) if (out[k] !== undefined) out[k] = dropProperty(out[k] as Json, name);
  return out;
}

/** The schema without the field at `path` (e.g. `tls.client_key`): what an answer shows of a value (no private keys). */
export function withoutField(s: Json, path: readonly string[]): Json {
  const [head, ...rest] = path;
  if (head === undefined) return s;
  if (rest.length === 0) return dropProperty(s, head);
  const props = s.properties as Record<string, Json> | undefined;
  const sub = props?.[head];
  if (props === undefined || sub === undefined) return s;
  return { ...s, properties: { ...props, [head]: withoutField(sub, rest) } };
}

function hideAll(s: Json, hidden: readonly (readonly string[])[]): Json {
  let out = s;
  for (const h of hidden) out = withoutField(out, h);
  return out;
}

/** A value as a write answers it: valid, stamped by the gateway (id, create_time, update_time), private keys removed. */
function writtenValue(s: Json, hidden: readonly (readonly string[])[]): Json {
  const out = hideAll(s, hidden);
  return { ...out, required: [...((out.required as string[] | undefined) ?? []), 'id', 'create_time', 'update_time'] };
}

/** `{ not: { required: [last] } }` at the path: the field is not there. */
function absent(path: readonly string[]): Json {
  const [head, ...rest] = path;
  if (head === undefined) return {};
  return rest.length === 0 ? { not: { required: [head] } } : { properties: { [head]: absent(rest) } };
}

/**
 * A value as a read (GET one, list) answers it: as stored. Written through the Admin API it is a written value; an
 * item put in the store by other means (etcdctl, apisix.yaml) is shown as stored even when it fails the schema or
 * has no timestamps (the data plane skips an invalid one and logs why). Private keys are never shown, whatever wrote it.
 */
function storedValue(hidden: readonly (readonly string[])[]): Json {
  return {
    type: 'object', required: ['id'],
    description: 'an item put in the store by other means than the Admin API (etcdctl, apisix.yaml), shown as stored',
    ...(hidden.length > 0 ? { allOf: hidden.map(absent) } : {}),
  };
}

interface ResourceDoc {
  /** Path segment, e.g. stream_routes. */
  readonly name: string;
  /** Component names: StreamRoute, StreamRouteValue, StreamRouteItem, ... */
  readonly title: string;
  readonly kind: string;
  /** Fields no answer shows (private keys), as the `present` hooks remove them (ssls.ts upstreamKeyHooks, sslsResource). */
  readonly hidden: readonly (readonly string[])[];
  /** Methods the declaration refuses with 405 (stream_routes: PATCH; plugin_metadata: POST, PATCH). */
  readonly unsupported: readonly Method[];
  readonly stream?: boolean;
}

/** What no answer shows of an upstream, its own or a route's or service's (ssls.ts upstreamKeyHooks). */
const UPSTREAM_HIDDEN = [['tls', 'client_key']] as const;
const INLINE_HIDDEN = [['upstream', 'tls', 'client_key']] as const;
/** An inline upstream (a route's, a service's) refers to the Upstream schema as written, and as answers show it. */
const AS_WRITTEN = new Map([[upstreamSchema, ref('Upstream')]]);
const AS_SHOWN = new Map([[upstreamSchema, ref('UpstreamShown')]]);

const RESOURCES: readonly (ResourceDoc & { readonly schema: Schema })[] = [
  { name: streamRoutes.name, title: 'StreamRoute', kind: streamRoutes.kind, schema: streamRouteSchema, hidden: INLINE_HIDDEN, unsupported: streamRoutes.unsupportedMethods ?? [], stream: true },
  { name: upstreams.name, title: 'Upstream', kind: upstreams.kind, schema: upstreamSchema, hidden: UPSTREAM_HIDDEN, unsupported: upstreams.unsupportedMethods ?? [] },
  { name: services.name, title: 'Service', kind: services.kind, schema: serviceSchema, hidden: INLINE_HIDDEN, unsupported: services.unsupportedMethods ?? [] },
  { name: 'ssls', title: 'Ssl', kind: 'ssl', schema: sslSchema, hidden: [['key'], ['keys']], unsupported: [] },
];
const METADATA: ResourceDoc = { name: pluginMetadata.name, title: 'PluginMetadata', kind: pluginMetadata.kind, hidden: [], unsupported: pluginMetadata.unsupportedMethods ?? [] };

const STAMPS: Json = { id: { type: 'string' }, create_time: { type: 'integer' }, update_time: { type: 'integer' } };

/** The envelopes of a resource (GET one, PUT/POST/PATCH, list) and the values inside (as written, as stored). */
function envelopeSchemas(title: string, request: Json, value: Json, hidden: readonly (readonly string[])[]): Record<string, Json> {
  const read = { anyOf: [ref(`${title}Value`), ref(`${title}Stored`)] };
  const item = { type: 'object', required: ['key', 'value', 'createdIndex', 'modifiedIndex'], additionalProperties: false, properties: { key: { type: 'string' }, value: read, createdIndex: { type: 'integer' }, modifiedIndex: { type: 'integer' } } };
  return {
    [title]: request,
    [`${title}Value`]: value,
    [`${title}Stored`]: storedValue(hidden),
    [`${title}Item`]: item,
    [`${title}Written`]: { type: 'object', required: ['key', 'value'], additionalProperties: false, properties: { key: { type: 'string' }, value: ref(`${title}Value`) } },
    [`${title}List`]: { type: 'object', required: ['list', 'total'], additionalProperties: false, properties: { list: { type: 'array', items: ref(`${title}Item`) }, total: { type: 'integer', minimum: 0 } } },
  };
}

const idParam = (name: string, description: string): Json => ({ name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } });
const queryParam = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({ name, in: 'query', required: false, description, schema });
const TTL = queryParam('ttl', 'the item expires after this many seconds (an etcd lease with etcd)', { type: 'number' });
const FORCE = queryParam('force', '`true` deletes even while other items use this one', { type: 'string', enum: ['true', 'false'] });
const LIST_PARAMS = [
  queryParam('page', 'page number (with page_size)', { type: 'integer', minimum: 1 }),
  queryParam('page_size', 'items per page (with page)', { type: 'integer', minimum: 10, maximum: 500 }),
  queryParam('name', 'only items whose name matches this regular expression'),
  queryParam('label', 'only items carrying this label'),
  queryParam('filter', 'URL-encoded `field=value` pairs (stream_routes: service_id, upstream_id)'),
];
const SUB_PATH: Json = { name: 'sub_path', in: 'path', required: true, description: 'a field of the item; deeper levels separated by `/` (e.g. `nodes`, `tls/verify`)', schema: { type: 'string' }, 'x-multi-segment': true };
const METHOD_NAMES = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Every method of a path the path table does not route: 404 (`not found`, `Unsupported resource type: x`). */
function notRouted(tags: string[], summary: string, except: readonly string[] = []): Json {
  return Object.fromEntries(METHOD_NAMES.filter((m) => !except.includes(m)).map((m) => [m, api({ summary, tags, errors: [404] })]));
}

/** OPTIONS: a CORS preflight when enable_admin_cors is on (answered before the key check); else no such route. */
function optionsOp(tags: string[]): Operation {
  return api({ summary: 'CORS preflight (enable_admin_cors), else not found', tags, public: true, ok: { 200: { description: 'CORS preflight', content: { 'text/plain': { schema: { type: 'string', maxLength: 0 } } } } }, errors: [400, 401, 404] });
}

/**
 * The operations of one resource. Every one can answer 400: routes.ts dispatch checks the body, `ttl` and (stream
 * routes) stream mode before the resource sees the request, even before its 405.
 */
function resourceOps(d: ResourceDoc, T: string = d.title): { collection: Json; item: (params: Json[]) => Json; sub: Json } {
  const tags = [d.name];
  const stream = d.stream === true ? ' (400 for every method while stream mode is off)' : '';
  const or405 = (m: Method, op: () => Operation): Operation => (d.unsupported.includes(m) ? api({ summary: `not supported for ${d.kind} (405)`, tags, errors: [400, 405] }) : op());
  const written = { 200: { description: 'replaced (create_time kept)', content: json(ref(`${T}Written`)) }, 201: { description: 'created', content: json(ref(`${T}Written`)) } };
  const body = { required: true, content: json(ref(T)) };
  const patch = (params: Json[], summary: string, schema: Json): Operation => or405('PATCH', () => api({
    summary, tags, parameters: [...params, TTL], body: { required: true, content: json(schema) },
    ok: { 200: { description: 'patched', content: json(ref(`${T}Written`)) } }, errors: [400, 404, 503],
  }));
  const collection = {
    get: api({ summary: `list ${d.kind}s${stream}`, tags, parameters: LIST_PARAMS, ok: { 200: { description: 'the list', content: json(ref(`${T}List`)) } }, errors: [400, 503] }),
    put: or405('PUT', () => api({ summary: `create or replace the ${d.kind} whose id is in the body`, tags, parameters: [TTL], body, ok: written, errors: [400, 503] })),
    post: or405('POST', () => api({ summary: `create a ${d.kind} with a generated id (20 digits)`, tags, parameters: [TTL], body, ok: { 201: written[201] }, errors: [400, 503] })),
    delete: or405('DELETE', () => api({ summary: `refused: missing ${d.kind} id (400)`, tags, errors: [400] })),
    patch: or405('PATCH', () => api({ summary: `refused: missing ${d.kind} id (400)`, tags, errors: [400] })),
    options: optionsOp(tags),
  };
  const item = (params: Json[]): Json => ({
    get: api({ summary: `one ${d.kind}`, tags, parameters: params, ok: { 200: { description: 'the item', content: json(ref(`${T}Item`)) } }, errors: [400, 404, 503] }),
    put: or405('PUT', () => api({ summary: `create or replace a ${d.kind}`, tags, parameters: [...params, TTL], body, ok: written, errors: [400, 503] })),
    post: or405('POST', () => api({ summary: `refused: wrong ${d.kind} id, do not need it (400)`, tags, parameters: params, errors: [400] })),
    delete: or405('DELETE', () => api({
      summary: `delete a ${d.kind}; refused while another item uses it, unless force=true`, tags, parameters: [...params, FORCE],
      ok: { 200: { description: 'deleted', content: json(ref('Deleted')) } }, errors: [400, 404, 503],
    })),
    patch: patch(params, `merge a patch into a ${d.kind} (objects merge, null deletes, the rest replaces)`, { type: 'object' }),
    options: optionsOp(tags),
  });
  const sub = { patch: patch([idParam('id', `the ${d.kind} id`), SUB_PATH], `set one field of a ${d.kind} (null deletes it)`, {}) };
  return { collection, item, sub };
}

function resourcePaths(d: ResourceDoc): Record<string, Json> {
  const base = `/apisix/admin/${d.name}`;
  const ops = resourceOps(d);
  return { [base]: ops.collection, [`${base}/{id}`]: ops.item([idParam('id', `the ${d.kind} id: 1-64 of [a-zA-Z0-9-_.]`)]), [`${base}/{id}/{sub_path}`]: ops.sub };
}

/** plugin_metadata/{name}: a resource whose id is a plugin's name; one path per plugin that takes metadata, with its schema. */
function metadataPaths(): DocPart {
  const base = `/apisix/admin/${METADATA.name}`;
  const schemas: Record<string, Json> = envelopeSchemas(METADATA.title, { type: 'object', description: 'the plugin\'s metadata, checked against its metadata schema' }, { type: 'object', required: ['id', 'create_time', 'update_time'], properties: STAMPS }, []);
  const ops = resourceOps(METADATA);
  const paths: Record<string, Json> = { [base]: ops.collection, [`${base}/{plugin_name}`]: ops.item([idParam('plugin_name', 'a stream plugin that takes metadata')]) };
  for (const p of ALL_PLUGINS) {
    if (p.metadataSchema === undefined) continue;
    const title = `${METADATA.title}_${p.name.replace(/[^a-zA-Z0-9]/g, '_')}`;
    const request = jsonSchema2020(p.metadataSchema);
    // answers carry the stamps; nothing else beyond the schema is stored (plugin.ts checkMetadata refuses other keys)
    const value = { ...request, properties: { ...(request.properties as Json | undefined), ...STAMPS }, required: [...((request.required as string[] | undefined) ?? []), 'id', 'create_time', 'update_time'], additionalProperties: false };
    Object.assign(schemas, envelopeSchemas(title, request, value, []));
    paths[`${base}/${p.name}`] = resourceOps(METADATA, title).item([]);
  }
  return { paths, schemas };
}

/** plugins/list, plugins/{name}, plugins?all=true (plugins-info.ts), schema/validate/{resource}, unknown resources. */
function infoPaths(): Record<string, Json> {
  const tags = ['plugins'];
  const subsystem = queryParam('subsystem', 'http (the default; Sluice has no http plugins) or stream', { type: 'string' });
  const getOnly = (get: Operation): Json => ({ ...notRouted(tags, 'no such route (404)', ['get']), get });
  const out: Record<string, Json> = {
    '/apisix/admin/plugins/list': getOnly(api({ summary: 'the enabled plugins of a subsystem, by name', tags, parameters: [subsystem], ok: { 200: { description: 'plugin names, highest priority first', content: json({ type: 'array', items: { type: 'string' } }) } }, errors: [400] })),
    '/apisix/admin/plugins/{plugin_name}': getOnly(api({ summary: 'a plugin\'s conf schema', tags, parameters: [idParam('plugin_name', 'plugin name'), subsystem, queryParam('schema_type', 'consumer: stream plugins have none (400)')], ok: { 200: { description: 'the JSON Schema of the plugin\'s conf', content: json({ type: 'object' }) } }, errors: [400, 404] })),
    '/apisix/admin/plugins': getOnly(api({ summary: 'every enabled plugin with its schemas (all=true)', tags, parameters: [subsystem, queryParam('all', 'must be true', { type: 'string', enum: ['true'] })], ok: { 200: { description: 'plugin name → version, priority, schema, metadata_schema', content: json({ type: 'object', additionalProperties: { type: 'object', required: ['version', 'priority', 'schema'], properties: { version: { type: 'number' }, priority: { type: 'integer' }, schema: { type: 'object' }, metadata_schema: { type: 'object' } } } }) } }, errors: [400, 404] })),
  };
  const validate = (summary: string, params: Json[], body: Json, errors: number[]): Json => ({
    ...notRouted(['schema'], 'no such route (404)', ['post']),
    post: api({ summary, tags: ['schema'], parameters: params, body: { required: false, content: json(body) }, ok: { 200: { description: 'valid (empty body)' } }, errors }),
  });
  out['/apisix/admin/schema/validate/{resource}'] = validate('validate a body against a resource\'s schema: Unsupported resource type (404)', [idParam('resource', 'a resource name')], {}, [400, 404]);
  for (const d of [...RESOURCES, METADATA]) {
    out[`/apisix/admin/schema/validate/${d.name}`] = validate(`validate a ${d.name} body against its schema (no reference checks)`, [], ref(d.title), [400]);
  }
  // the other resource names: Unsupported resource type (404), whatever the method
  const unknown = { ...notRouted(['admin'], 'Unsupported resource type (404)'), options: optionsOp(['admin']) };
  out['/apisix/admin/{resource}'] = { ...unknown, parameters: [idParam('resource', 'not a resource name')] };
  out['/apisix/admin/{resource}/{id}'] = { ...unknown, parameters: [idParam('resource', 'not a resource name'), idParam('id', 'any')] };
  return out;
}

/** The whole document: the Admin API and `more` (Sluice's own routes); `version` is the gateway's (info.version). */
export function openApiDocument(version: string, more: readonly DocPart[]): Json {
  const schemas: Record<string, Json> = {
    ErrorMessage: {
      type: 'object', required: ['error_msg'], additionalProperties: false,
      properties: {
        error_msg: { type: 'string' },
        description: { type: 'string', description: '401: missing apikey, wrong apikey, invalid method for role viewer' },
        req_body: { type: 'string', description: 'a body that is not JSON, echoed back (never one holding a private key)' },
      },
    },
    KeyNotFound: { type: 'object', required: ['message'], additionalProperties: false, properties: { message: { type: 'string', const: ERRORS.KEY_NOT_FOUND.msg } } },
    UpstreamShown: hideAll(jsonSchema2020(upstreamSchema), UPSTREAM_HIDDEN),
    Deleted: { type: 'object', required: ['deleted', 'key'], additionalProperties: false, properties: { deleted: { type: 'string', const: '1' }, key: { type: 'string' } } },
  };
  let paths: Record<string, Json> = {
    '/apisix/admin': {
      ...notRouted(['admin'], 'Unsupported resource type (404)'),
      head: api({ summary: 'the Admin API is up (no key needed)', tags: ['admin'], public: true, ok: { 200: { description: 'up (empty body)' } }, errors: [] }),
    },
  };
  for (const d of RESOURCES) {
    Object.assign(schemas, envelopeSchemas(d.title, jsonSchema2020(d.schema, AS_WRITTEN), writtenValue(jsonSchema2020(d.schema, AS_SHOWN), d.hidden), d.hidden));
    paths = { ...paths, ...resourcePaths(d) };
  }
  const meta = metadataPaths();
  Object.assign(schemas, meta.schemas);
  paths = { ...paths, ...meta.paths, ...infoPaths() };
  for (const part of more) {
    Object.assign(schemas, part.schemas);
    Object.assign(paths, part.paths);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice Admin API',
      version,
      description: 'APISIX 3.x\'s Admin API for an L4 gateway (stream_routes, upstreams, services, ssls, plugin_metadata, plugins, schema/validate) and Sluice\'s own /sluice/v1 API. Every answer carries X-API-VERSION: v3.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: 'http://127.0.0.1:9180', description: 'deployment.admin.admin_listen' }],
    security: [{ apiKeyHeader: [] }, { apiKeyQuery: [] }, { apiKeyCookie: [] }],
    tags: [...RESOURCES.map((d) => ({ name: d.name })), { name: 'plugin_metadata' }, { name: 'plugins' }, { name: 'schema' }, { name: 'admin' }, { name: 'sluice' }],
    paths,
    components: {
      schemas,
      responses: errorResponses(),
      headers: { ApiVersion: { description: 'the Admin API version', required: true, schema: { type: 'string', const: 'v3' } } },
      securitySchemes: {
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-KEY', description: 'an admin key; a viewer key may only GET' },
        apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'the same key as a query argument (checked first)' },
        apiKeyCookie: { type: 'apiKey', in: 'cookie', name: 'x_api_key', description: 'the same key as a cookie (checked last)' },
      },
    },
  };
}

/** One response per error status of the catalog, listing its messages: the catalog and the document cannot differ. */
function errorResponses(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [status, name] of errorStatuses()) {
    const defs = Object.values(ERRORS).filter((e) => e.status === status);
    const msgs = defs.map((e) => `\`${e.msg}\``);
    // etcd-style errors say `message` (Key not found), the others `error_msg`
    const schema = defs.some((e) => 'field' in e && e.field === 'message') ? { anyOf: [ref('ErrorMessage'), ref('KeyNotFound')] } : ref('ErrorMessage');
    out[name] = { description: `${status}: one of ${[...new Set(msgs)].join(', ')}`, headers: { 'X-API-VERSION': { $ref: '#/components/headers/ApiVersion' } }, content: json(schema) };
  }
  return out;
}
