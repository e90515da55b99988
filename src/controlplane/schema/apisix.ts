// APISIX 3.x's resource schemas (schema_def.lua), as JSON Schema, for the validator in validator.ts.
// Sluice's additions are marked; everything else keeps APISIX's structure so the error texts match.
import type { Schema } from '../../lib/jsonschema.ts';

export const idSchema: Schema = {
  anyOf: [
    { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' },
    { type: 'integer', minimum: 1 },
  ],
};

const ipv4Seg = '([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])';
const ipv4Def = [ipv4Seg, ipv4Seg, ipv4Seg, ipv4Seg].join('\\.');
const ipv6Def = '([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?';

export const ipDef: readonly Schema[] = [
  { title: 'IPv4', type: 'string', format: 'ipv4' },
  { title: 'IPv4/CIDR', type: 'string', pattern: `^${ipv4Def}/([12]?[0-9]|3[0-2])$` },
  { title: 'IPv6', type: 'string', format: 'ipv6' },
  { title: 'IPv6/CIDR', type: 'string', pattern: `^${ipv6Def}/[0-9]{1,3}$` },
];

export const hostDef: Schema = { type: 'string', pattern: '^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$' };
const timestampDef: Schema = { type: 'integer' };
const nameDef: Schema = { type: 'string', maxLength: 256, minLength: 1 };
const descDef: Schema = { type: 'string', maxLength: 256 };
export const labelsDef: Schema = {
  description: 'key/value pairs to specify attributes',
  type: 'object',
  patternProperties: {
    '.*': { description: 'value of label', type: 'string', pattern: '^\\S+$', maxLength: 256, minLength: 1 },
  },
};
const pluginsSchema: Schema = { type: 'object' };
const certificateScheme: Schema = { type: 'string', minLength: 128, maxLength: 65536 };
const privateKeySchema: Schema = { type: 'string', minLength: 128, maxLength: 65536 };
const secretUriSchema: Schema = { type: 'string', pattern: '^\\$(secret|env|ENV)://' };

const timeoutDef: Schema = {
  type: 'object',
  properties: {
    connect: { type: 'number', exclusiveMinimum: 0 },
    send: { type: 'number', exclusiveMinimum: 0 },
    read: { type: 'number', exclusiveMinimum: 0 },
  },
  required: ['connect', 'send', 'read'],
};

const statuses = (d: readonly number[]): Schema => ({
  type: 'array', minItems: 1, items: { type: 'integer', minimum: 200, maximum: 599 }, uniqueItems: true, default: d,
});

export const healthChecker: Schema = {
  type: 'object',
  properties: {
    active: {
      type: 'object',
      properties: {
        // Sluice adds `udp` (issue 7): a datagram probe with req_data and an expected reply prefix.
        type: { type: 'string', enum: ['http', 'https', 'tcp', 'udp'], default: 'http' },
        timeout: { type: 'number', default: 1 },
        concurrency: { type: 'integer', default: 10 },
        host: hostDef,
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        http_path: { type: 'string', default: '/' },
        https_verify_certificate: { type: 'boolean', default: true },
        healthy: {
          type: 'object',
          properties: {
            interval: { type: 'integer', minimum: 1, default: 1 },
            http_statuses: statuses([200, 302]),
            successes: { type: 'integer', minimum: 1, maximum: 254, default: 2 },
          },
        },
        unhealthy: {
          type: 'object',
          properties: {
            interval: { type: 'integer', minimum: 1, default: 1 },
            http_statuses: statuses([429, 404, 500, 501, 502, 503, 504, 505]),
            http_failures: { type: 'integer', minimum: 1, maximum: 254, default: 5 },
            tcp_failures: { type: 'integer', minimum: 1, maximum: 254, default: 2 },
            timeouts: { type: 'integer', minimum: 1, maximum: 254, default: 3 },
          },
        },
        req_headers: { type: 'array', minItems: 1, items: { type: 'string' } },
        // Sluice (udp probes): the datagram to send, and the prefix the reply must start with.
        req_data: { type: 'string', minLength: 1, maxLength: 4096 },
        expected_resp: { type: 'string', maxLength: 4096 },
      },
    },
    passive: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['http', 'https', 'tcp', 'udp'], default: 'http' },
        healthy: {
          type: 'object',
          properties: {
            http_statuses: statuses([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]),
            successes: { type: 'integer', minimum: 0, maximum: 254, default: 5 },
          },
        },
        unhealthy: {
          type: 'object',
          properties: {
            http_statuses: statuses([429, 500, 503]),
            tcp_failures: { type: 'integer', minimum: 0, maximum: 254, default: 2 },
            timeouts: { type: 'integer', minimum: 0, maximum: 254, default: 7 },
            http_failures: { type: 'integer', minimum: 0, maximum: 254, default: 5 },
          },
        },
      },
    },
  },
  anyOf: [{ required: ['active'] }, { required: ['active', 'passive'] }],
};

export const nodesSchema: Schema = {
  anyOf: [
    {
      type: 'object',
      patternProperties: { '.*': { description: 'weight of node', type: 'integer', minimum: 0 } },
    },
    {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          host: hostDef,
          port: { description: 'port of node', type: 'integer', minimum: 1, maximum: 65535 },
          weight: { description: 'weight of node', type: 'integer', minimum: 0 },
          priority: { description: 'priority of node', type: 'integer', default: 0 },
          metadata: { description: 'metadata of node', type: 'object' },
        },
        required: ['host', 'weight'],
      },
    },
  ],
};

export const upstreamSchema: Schema = {
  type: 'object',
  properties: {
    id: idSchema,
    name: nameDef,
    desc: descDef,
    labels: labelsDef,
    create_time: timestampDef,
    update_time: timestampDef,
    nodes: nodesSchema,
    retries: { type: 'integer', minimum: 0 },
    retry_timeout: { type: 'number', minimum: 0 },
    timeout: timeoutDef,
    tls: {
      type: 'object',
      properties: {
        client_cert_id: idSchema,
        client_cert: certificateScheme,
        client_key: privateKeySchema,
        verify: { type: 'boolean', default: false },
      },
      dependencies: {
        client_cert: { required: ['client_key'] },
        client_key: { required: ['client_cert'] },
        client_cert_id: { not: { required: ['client_cert', 'client_key'] } },
      },
    },
    keepalive_pool: {
      type: 'object',
      properties: {
        size: { type: 'integer', default: 320, minimum: 1 },
        idle_timeout: { type: 'number', default: 60, minimum: 0 },
        requests: { type: 'integer', default: 1000, minimum: 1 },
      },
    },
    type: { description: 'algorithms of load balancing', type: 'string', default: 'roundrobin' },
    checks: healthChecker,
    hash_on: { type: 'string', default: 'vars', enum: ['vars', 'header', 'cookie', 'consumer', 'vars_combinations'] },
    key: { description: 'the key of chash for dynamic load balancing', type: 'string' },
    scheme: { default: 'http', enum: ['grpc', 'grpcs', 'http', 'https', 'tcp', 'tls', 'udp', 'kafka'] },
    discovery_type: { description: 'discovery type', type: 'string' },
    discovery_args: {
      type: 'object',
      properties: {
        namespace_id: { description: 'namespace id', type: 'string' },
        group_name: { description: 'group name', type: 'string' },
      },
    },
    pass_host: { description: 'mod of host passing', type: 'string', enum: ['pass', 'node', 'rewrite'], default: 'pass' },
    upstream_host: hostDef,
    service_name: nameDef,
  },
  oneOf: [{ required: ['nodes'] }, { required: ['service_name', 'discovery_type'] }],
  additionalProperties: false,
};

export const serviceSchema: Schema = {
  type: 'object',
  properties: {
    id: idSchema,
    name: nameDef,
    desc: descDef,
    labels: labelsDef,
    create_time: timestampDef,
    update_time: timestampDef,
    plugins: pluginsSchema,
    upstream: upstreamSchema,
    upstream_id: idSchema,
    script: { type: 'string', minLength: 10, maxLength: 102400 },
    enable_websocket: { description: 'enable websocket for request', type: 'boolean' },
    hosts: { type: 'array', items: hostDef, minItems: 1, uniqueItems: true },
  },
  additionalProperties: false,
};

export const streamRouteSchema: Schema = {
  type: 'object',
  properties: {
    id: idSchema,
    name: nameDef,
    desc: descDef,
    labels: labelsDef,
    create_time: timestampDef,
    update_time: timestampDef,
    remote_addr: { description: 'client IP', type: 'string', anyOf: ipDef },
    server_addr: { description: 'server IP', type: 'string', anyOf: ipDef },
    server_port: { description: 'server port', type: 'integer', minimum: 1, maximum: 65535 },
    sni: { description: 'server name indication', ...hostDef },
    upstream: upstreamSchema,
    upstream_id: idSchema,
    service_id: idSchema,
    plugins: pluginsSchema,
    protocol: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        superior_id: idSchema,
        conf: { description: 'protocol-specific configuration', type: 'object' },
        logger: { type: 'array' },
      },
      required: ['name'],
    },
    // Sluice extras (CONTRACT §3): several client CIDRs, several SNIs, TLS passthrough by ClientHello SNI.
    remote_addrs: { type: 'array', minItems: 1, maxItems: 1024, items: { type: 'string', anyOf: ipDef } },
    snis: { type: 'array', minItems: 1, maxItems: 1024, items: hostDef, uniqueItems: true },
    tls_passthrough: { type: 'boolean' },
  },
  additionalProperties: false,
};

const certOrSecret: Schema = { oneOf: [certificateScheme, secretUriSchema] };
const keyOrSecret: Schema = { oneOf: [privateKeySchema, secretUriSchema] };

export const sslSchema: Schema = {
  type: 'object',
  properties: {
    id: idSchema,
    desc: descDef,
    labels: labelsDef,
    create_time: timestampDef,
    update_time: timestampDef,
    type: { type: 'string', default: 'server', enum: ['server', 'client'] },
    cert: certOrSecret,
    key: keyOrSecret,
    sni: hostDef,
    snis: { type: 'array', items: hostDef, minItems: 1 },
    certs: { type: 'array', items: certOrSecret },
    keys: { type: 'array', items: keyOrSecret },
    client: {
      type: 'object',
      properties: {
        ca: certificateScheme,
        depth: { type: 'integer', minimum: 0, default: 1 },
        skip_mtls_uri_regex: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' } },
      },
      required: ['ca'],
    },
    status: { type: 'integer', enum: [1, 0], default: 1 },
    ssl_protocols: { type: 'array', maxItems: 3, uniqueItems: true, items: { enum: ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'] } },
  },
  if: { properties: { type: { enum: ['server'] } } },
  then: { oneOf: [{ required: ['sni', 'key', 'cert'] }, { required: ['snis', 'key', 'cert'] }] },
  else: { required: ['key', 'cert'] },
  additionalProperties: false,
};

/** Keys of stream-route chash upstreams (APISIX's upstream_hash_vars_schema, plus server_port for stream). */
export const CHASH_VAR_KEY = /^((uri|server_name|server_addr|server_port|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$/;
