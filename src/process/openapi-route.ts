// GET /sluice/v1/openapi.json (CONTRACT §7, no key needed): the OpenAPI 3.1 document of the Admin API
// (controlplane/admin/openapi.ts) and of Sluice's own routes, which are described here, next to them (status.ts,
// explain.ts, connections.ts). The field lists are typed against the answers' own types, so a field added to an
// answer and not to the document is a type error; the integration tests check every answer against the document.
import { readFileSync } from 'node:fs';
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import { openApiDocument } from '../controlplane/admin/openapi.ts';
import { api, json, ref, type DocPart, type Json } from '../controlplane/admin/openapi-parts.ts';
import type { ConnectionInfo, ExplainAnswer, ExplainQuery } from '../model/messages.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from './connections.ts';
import { DEFAULT_LIMIT as HISTORY_DEFAULT, MAX_LIMIT as HISTORY_MAX } from './history.ts';
import type { HistoryEntry } from '../controlplane/store/store.ts';

export const OPENAPI_PATH = '/sluice/v1/openapi.json';

const count: Json = { type: 'integer', minimum: 0 };
const counts: Json = { type: 'object', additionalProperties: count };
const nullable = (type: string): Json => ({ type: [type, 'null'] });
const object = (properties: Record<string, Json>, required: readonly string[] = Object.keys(properties)): Json => ({
  type: 'object', required: [...required], additionalProperties: false, properties,
});

const CONNECTION: Record<keyof ConnectionInfo, Json> = {
  id: { type: 'string' },
  protocol: { type: 'string', enum: ['tcp', 'udp'] },
  listener: { type: 'string', description: 'the listener as written in config.yaml' },
  remote_addr: { type: 'string' },
  remote_port: { type: 'integer', minimum: 0, maximum: 65535 },
  server_addr: { type: 'string' },
  server_port: { type: 'integer', minimum: 0, maximum: 65535 },
  sni: nullable('string'),
  route_id: nullable('string'),
  node: { type: ['string', 'null'], description: '"ip:port" of the upstream node, null before one is picked' },
  started_at: { type: 'integer', description: 'Unix ms' },
  bytes_from_client: count,
  bytes_to_client: count,
  state: { type: 'string', enum: ['handshake', 'connecting', 'relaying'] },
};

const EXPLAIN_QUERY: Record<keyof ExplainQuery, Json> = {
  protocol: { type: 'string', enum: ['tcp', 'udp', 'tls', 'tls_passthrough'], default: 'tcp' },
  remote_addr: { type: 'string', description: 'an IP address' },
  remote_port: { type: 'integer', minimum: 0, maximum: 65535, default: 0 },
  server_addr: { type: 'string', description: 'an IP address' },
  server_port: { type: 'integer', minimum: 1, maximum: 65535 },
  sni: nullable('string'),
};

const EXPLAIN_ANSWER: Record<keyof ExplainAnswer, Json> = {
  route_id: { type: ['string', 'null'], description: 'the route the connection would take, null for none' },
  reason: { type: 'string' },
  candidates: { type: 'array', items: object({ route_id: { type: 'string' }, matched: { type: 'boolean' }, why: { type: 'string' } }) },
};

const HISTORY_ENTRY: Record<keyof HistoryEntry, Json> = {
  revision: count,
  key: { type: 'string', description: '/apisix/<resource>/<id>' },
  action: { type: 'string', enum: ['put', 'delete'] },
  time: { type: 'integer', description: 'Unix ms' },
  value: { type: ['object', 'null'], description: 'as the Admin API shows it (no private key); null for a delete' },
};

function filters(): Json[] {
  const q = (name: string, description: string, schema: Json = { type: 'string', minLength: 1 }): Json => ({ name, in: 'query', required: false, description, schema });
  return [
    q('route_id', 'sessions of this route'),
    q('remote_addr', 'sessions from this IP or CIDR'),
    q('node', 'sessions to this upstream node (host:port)'),
    q('protocol', 'tcp or udp', { type: 'string', enum: ['tcp', 'udp'] }),
  ];
}

/** Sluice's own API: /sluice/v1/status, overview (overview.ts), explain, connections and this document. */
export function sluiceDoc(): DocPart {
  const tags = ['sluice'];
  const schemas: Record<string, Json> = {
    Status: object({
      config_version: count,
      workers: count,
      workers_restarted: count,
      sessions_lost_with_a_worker: count,
      tcp: object({ sessions: count, active: count, rejected_max_connections: count, native_relayed: count, native_accepted: count }),
      udp: object({ sessions: count, active: count, dropped: counts }),
      ended_by_reason: counts,
      picks_with_every_node_unhealthy: count,
      native_relay: { type: 'string', pattern: '^(on|off|unavailable: .+)$' },
    }),
    ExplainQuery: object(EXPLAIN_QUERY, ['remote_addr', 'server_addr', 'server_port']),
    ExplainAnswer: object(EXPLAIN_ANSWER),
    Connection: object(CONNECTION),
    ConnectionList: object({ total: count, list: { type: 'array', items: ref('Connection') } }),
    HistoryList: object({ list: { type: 'array', items: object(HISTORY_ENTRY) } }),
    Overview: object({
      config_version: count,
      role: { type: 'string', enum: ['admin', 'viewer'], description: 'the role of the key that asked' },
      time: { type: 'integer', description: 'Unix ms of the answer' },
      sessions: object({ open: count, counted: count }),
      listeners: {
        type: 'array', items: object({
          protocol: { type: 'string', enum: ['tcp', 'udp'] }, addr: { type: 'string' }, host: nullable('string'),
          port: count, bound_port: count, tls: { type: 'boolean' }, proxy_protocol: { type: 'boolean' }, open_sessions: count,
        }),
      },
      routes: {
        type: 'array', items: object({
          id: { type: 'string' }, name: nullable('string'), server_addr: nullable('string'), server_port: nullable('integer'),
          snis: { type: 'array', items: { type: 'string' } }, remote_addrs: { type: 'array', items: { type: 'string' } },
          upstream: nullable('string'), open_sessions: count, sessions_ended: count,
        }),
      },
      routes_total: count,
      upstreams: {
        type: 'array', items: object({
          key: { type: 'string' }, type: { type: 'string' }, scheme: { type: 'string' }, checked: { type: 'boolean' },
          nodes: {
            type: 'array', items: object({
              host: { type: 'string' }, ip: nullable('string'), port: count, weight: count, priority: { type: 'integer' },
              health: { enum: ['healthy', 'mostly_healthy', 'mostly_unhealthy', 'unhealthy', null] }, open_sessions: count,
            }),
          },
          nodes_total: count,
        }),
      },
      upstreams_total: count,
    }),
  };
  const paths: Record<string, Json> = {
    '/sluice/v1/status': { get: api({ summary: 'the gateway\'s counters, summed over every worker', tags, ok: { 200: { description: 'status', content: json(ref('Status')) } }, errors: [] }) },
    '/sluice/v1/overview': { get: api({ summary: 'what the status page (/sluice/ui/) shows: listeners, routes, upstream nodes with health', tags, ok: { 200: { description: 'overview', content: json(ref('Overview')) } }, errors: [] }) },
    '/sluice/v1/explain': {
      post: api({
        summary: 'which stream route a connection would take, and why', tags, body: { required: true, content: json(ref('ExplainQuery')) },
        ok: { 200: { description: 'the verdict', content: json(ref('ExplainAnswer')) } }, errors: [400, 503],
      }),
    },
    '/sluice/v1/connections': {
      get: api({
        summary: 'the live sessions of every worker, oldest first', tags,
        parameters: [...filters(), { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT } }],
        ok: { 200: { description: 'total matching, and up to limit of them', content: json(ref('ConnectionList')) } }, errors: [400],
      }),
      delete: api({
        summary: 'end every matching session (route_id, remote_addr or node is required)', tags, parameters: filters(),
        ok: { 200: { description: 'how many were ended', content: json(object({ deleted: count })) } }, errors: [400],
      }),
    },
    '/sluice/v1/connections/{id}': {
      delete: api({
        summary: 'end one session at once (end reason killed, status 403)', tags,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        ok: { 200: { description: 'ended', content: json(object({ deleted: { type: 'string' } })) } }, errors: [404],
      }),
    },
    '/sluice/v1/history': {
      get: api({
        summary: 'the kept revisions of one resource, or of every resource, newest first (the embedded store)', tags,
        parameters: [
          { name: 'key', in: 'query', required: false, description: '/apisix/<resource>/<id>', schema: { type: 'string' } },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: HISTORY_MAX, default: HISTORY_DEFAULT } },
        ],
        ok: { 200: { description: 'revisions', content: json(ref('HistoryList')) } }, errors: [400],
      }),
    },
    [OPENAPI_PATH]: {
      get: api({ summary: 'this document (no key needed)', tags, public: true, ok: { 200: { description: 'OpenAPI 3.1', content: json({ type: 'object', required: ['openapi', 'info', 'paths'] }) } }, errors: [] }),
    },
  };
  return { paths, schemas };
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The whole document, as the route serves it. */
export function sluiceOpenApi(): Json {
  return openApiDocument(version(), [sluiceDoc()]);
}

export function openApiRoute(): ExtraRoute {
  // built and serialized once: the document only changes with the code
  const text = JSON.stringify(sluiceOpenApi());
  return {
    method: 'GET',
    path: OPENAPI_PATH,
    public: true,
    handle: () => Promise.resolve({ status: 200, body: text, contentType: 'application/json' }),
  };
}
