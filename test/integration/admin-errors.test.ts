// Every Admin API error reachable through stream_routes, upstreams and services, with APISIX 3.x's exact texts
// (src/controlplane/admin/errors.ts; research/apisix-admin.md, apisix-schemas.md). Each case starts its own gateway,
// writes what it needs, sends one request, and checks the status, the whole body, and that the store did not move.
import { suite, test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP, configWith, err, must, startGatewayWithConfig, type Obj } from '../fixtures/admin-helpers.ts';

type Step = readonly [method: string, path: string, body?: unknown];

interface Case {
  readonly name: string;
  readonly config?: Obj;
  readonly setup?: readonly Step[];
  /** Written straight to the store (for resources the Admin API does not serve yet, e.g. ssls). */
  readonly store?: Readonly<Record<string, Obj>>;
  readonly req: Step;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly want: unknown;
}

const SR = '/apisix/admin/stream_routes';
const UPS = '/apisix/admin/upstreams';
const SVC = '/apisix/admin/services';
const conf = (m: string) => err(`invalid configuration: ${m}`);
const up = (m: string) => conf(`property "upstream" validation failed: ${m}`);
/** A stream route PUT with the seed's upstream and `extra` fields. */
const route = (extra: Obj, id = '1'): Step => ['PUT', `${SR}/${id}`, { upstream: UP, ...extra }];
const routeUp = (upExtra: Obj): Step => ['PUT', `${SR}/1`, { upstream: { ...UP, ...upExtra } }];
const HOST_PATTERN = String.raw`^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$`;

const schemaCases: Case[] = [
  { name: 'remote_addr not an IP', req: route({ remote_addr: '1.2.3.4.5' }), status: 400, want: conf('property "remote_addr" validation failed: object matches none of the required') },
  { name: 'remote_addr CIDR /33', req: route({ remote_addr: '127.0.0.1/33' }), status: 400, want: conf('property "remote_addr" validation failed: object matches none of the required') },
  { name: 'remote_addr a number', req: route({ remote_addr: 123 }), status: 400, want: conf('property "remote_addr" validation failed: wrong type: expected string, got number') },
  { name: 'server_addr not an IP', req: route({ server_addr: 'abc' }), status: 400, want: conf('property "server_addr" validation failed: object matches none of the required') },
  { name: 'server_port a string', req: route({ server_port: '9100' }), status: 400, want: conf('property "server_port" validation failed: wrong type: expected integer, got string') },
  { name: 'server_port 70000', req: route({ server_port: 70000 }), status: 400, want: conf('property "server_port" validation failed: expected 70000 to be at most 65535') },
  { name: 'server_port 0', req: route({ server_port: 0 }), status: 400, want: conf('property "server_port" validation failed: expected 0 to be at least 1') },
  { name: 'server_port 80.5', req: route({ server_port: 80.5 }), status: 400, want: conf('property "server_port" validation failed: wrong type: expected integer, got number') },
  { name: 'an HTTP route field (uri)', req: route({ uri: '/x' }), status: 400, want: conf('additional properties forbidden, found uri') },
  { name: 'an inherited name (toString) is still an unknown field', req: route({ toString: 1 }), status: 400, want: conf('additional properties forbidden, found toString') },
  { name: 'upstream without nodes', req: ['PUT', `${SR}/1`, { upstream: { type: 'roundrobin' } }], status: 400, want: up('value should match only one schema, but matches none') },
  { name: 'upstream [] is an empty table without nodes', req: ['PUT', `${SR}/1`, { upstream: [] }], status: 400, want: up('value should match only one schema, but matches none') },
  { name: 'upstream with nodes and discovery', req: routeUp({ service_name: 's', discovery_type: 'dns' }), status: 400, want: up('value should match only one schema, but matches both schemas 1 and 2') },
  { name: 'timeout.connect 0', req: routeUp({ timeout: { connect: 0, send: 1, read: 1 } }), status: 400, want: up('property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0') },
  { name: 'timeout without send', req: routeUp({ timeout: { connect: 1 } }), status: 400, want: up('property "timeout" validation failed: property "send" is required') },
  { name: 'timeout [] lacks connect', req: routeUp({ timeout: [] }), status: 400, want: up('property "timeout" validation failed: property "connect" is required') },
  { name: 'scheme ftp', req: routeUp({ scheme: 'ftp' }), status: 400, want: up('property "scheme" validation failed: matches none of the enum values') },
  { name: 'retries -1', req: routeUp({ retries: -1 }), status: 400, want: up('property "retries" validation failed: expected -1 to be at least 0') },
  { name: 'retries 0.00001 (LuaJIT prints 1e-05)', req: routeUp({ retry_timeout: -0.00001 }), status: 400, want: up('property "retry_timeout" validation failed: expected -1e-05 to be at least 0') },
  { name: 'upstream a string', req: ['PUT', `${SR}/1`, { upstream: 'x' }], status: 400, want: up('wrong type: expected object, got string') },
  { name: 'upstream null', req: ['PUT', `${SR}/1`, { upstream: null }], status: 400, want: up('wrong type: expected object, got userdata') },
  { name: 'node weight a string', req: routeUp({ nodes: { '127.0.0.1:1995': '1' } }), status: 400, want: up('property "nodes" validation failed: object matches none of the required') },
  { name: 'node weight -100', req: routeUp({ nodes: { '127.0.0.1:1995': -100 } }), status: 400, want: up('property "nodes" validation failed: object matches none of the required') },
  { name: 'upstream_id 0', req: ['PUT', `${SR}/1`, { upstream_id: 0 }], status: 400, want: conf('property "upstream_id" validation failed: object matches none of the required') },
  { name: 'sni with a space', req: route({ sni: 'a b' }), status: 400, want: conf(`property "sni" validation failed: failed to match pattern "${HOST_PATTERN}" with "a b"`) },
  { name: 'snis {} is an empty list', req: route({ snis: {} }), status: 400, want: conf('property "snis" validation failed: expect array to have at least 1 items') },
  { name: 'snis repeated', req: route({ snis: ['a.com', 'b.com', 'b.com'] }), status: 400, want: conf('property "snis" validation failed: expected unique items but items 2 and 3 are equal') },
  { name: 'remote_addrs with a bad entry', req: route({ remote_addrs: ['10.0.0.0/8', 'x'] }), status: 400, want: conf('property "remote_addrs" validation failed: failed to validate item 2: object matches none of the required') },
  { name: 'tls_passthrough not a boolean', req: route({ tls_passthrough: 'yes' }), status: 400, want: conf('property "tls_passthrough" validation failed: wrong type: expected boolean, got string') },
  { name: 'desc of 300 characters', req: route({ desc: 'é'.repeat(300) }), status: 400, want: conf('property "desc" validation failed: string too long, expected at most 256, got 300') },
  { name: 'empty name', req: route({ name: '' }), status: 400, want: conf('property "name" validation failed: string too short, expected at least 1, got 0') },
  { name: 'label value with a space', req: route({ labels: { k: 'a b' } }), status: 400, want: conf(String.raw`property "labels" validation failed: failed to validate k (matching ".*"): failed to match pattern "^\\S+$" with "a b"`) },
  { name: 'plugins an array', req: route({ plugins: [1] }), status: 400, want: conf('property "plugins" validation failed: wrong type: expected object, got table') },
  { name: 'URL id *invalid', req: ['PUT', `${SR}/*invalid`, { upstream: UP }], status: 400, want: conf('property "id" validation failed: object matches none of the required') },
  { name: 'URL id of 65 characters', req: ['PUT', `${SR}/${'a'.repeat(65)}`, { upstream: UP }], status: 400, want: conf('property "id" validation failed: object matches none of the required') },
  { name: 'body id -100 on PUT without URL id', req: ['PUT', UPS, { id: -100, ...UP }], status: 400, want: conf('property "id" validation failed: object matches none of the required') },
  { name: 'body id "invalid_id$"', req: ['PUT', UPS, { id: 'invalid_id$', ...UP }], status: 400, want: conf('property "id" validation failed: object matches none of the required') },
  { name: 'upstreams: an unknown field', req: ['PUT', `${UPS}/1`, { ...UP, invalid_property: '/index.html' }], status: 400, want: conf('additional properties forbidden, found invalid_property') },
  { name: 'upstreams: array node port 65536', req: ['PUT', `${UPS}/1`, { nodes: [{ host: '127.0.0.1', port: 65536, weight: 1 }] }], status: 400, want: conf('property "nodes" validation failed: object matches none of the required') },
  { name: 'upstreams: keepalive_pool.size 0', req: ['PUT', `${UPS}/1`, { ...UP, keepalive_pool: { size: 0 } }], status: 400, want: conf('property "keepalive_pool" validation failed: property "size" validation failed: expected 0 to be at least 1') },
  { name: 'upstreams: passive checks only', req: ['PUT', `${UPS}/1`, { ...UP, checks: { passive: { type: 'tcp' } } }], status: 400, want: conf('property "checks" validation failed: object matches none of the required: ["active"] or ["active","passive"]') },
  { name: 'upstreams: checks successes 255', req: ['PUT', `${UPS}/1`, { ...UP, checks: { active: { healthy: { successes: 255 } } } }], status: 400, want: conf('property "checks" validation failed: property "active" validation failed: property "healthy" validation failed: property "successes" validation failed: expected 255 to be at most 254') },
  { name: 'upstreams: checks http_statuses item 600', req: ['PUT', `${UPS}/1`, { ...UP, checks: { active: { type: 'tcp' }, passive: { unhealthy: { http_statuses: [500, 600] } } } }], status: 400, want: conf('property "checks" validation failed: property "passive" validation failed: property "unhealthy" validation failed: property "http_statuses" validation failed: failed to validate item 2: expected 600 to be at most 599') },
  { name: 'upstreams: client_cert_id with client_cert and client_key', req: ['PUT', `${UPS}/1`, { ...UP, tls: { client_cert_id: 1, client_cert: 'c'.repeat(128), client_key: 'k'.repeat(128) } }], status: 400, want: conf('property "tls" validation failed: failed to validate dependent schema for "client_cert_id": value wasn\'t supposed to match schema') },
  { name: 'upstreams: client_cert without client_key', req: ['PUT', `${UPS}/1`, { ...UP, tls: { client_cert: 'c'.repeat(128) } }], status: 400, want: conf('property "tls" validation failed: failed to validate dependent schema for "client_cert": property "client_key" is required') },
  { name: 'services: an HTTP-only field of routes', req: ['PUT', `${SVC}/1`, { uri: '/x' }], status: 400, want: conf('additional properties forbidden, found uri') },
  { name: 'services: hosts []', req: ['PUT', `${SVC}/1`, { hosts: [] }], status: 400, want: conf('property "hosts" validation failed: expect array to have at least 1 items') },
  { name: 'services: inline upstream without nodes', req: ['PUT', `${SVC}/1`, { upstream: {} }], status: 400, want: up('value should match only one schema, but matches none') },
];

const idCases: Case[] = [
  { name: 'PUT with a body id that differs from the URL id', req: ['PUT', `${SR}/1`, { id: 2, upstream: UP }], status: 400, want: err('wrong stream route id') },
  { name: 'POST to an id', req: ['POST', `${SR}/1`, { upstream: UP }], status: 400, want: err('wrong stream route id, do not need it') },
  { name: 'POST with a body id', req: ['POST', SR, { id: '1', upstream: UP }], status: 400, want: err('wrong stream route id, do not need it') },
  { name: 'PUT without any id', req: ['PUT', SR, { upstream: UP }], status: 400, want: err('missing stream route id') },
  { name: 'DELETE without an id', req: ['DELETE', SR], status: 400, want: err('missing stream route id') },
  { name: 'PUT without a body', req: ['PUT', `${SR}/1`], status: 400, want: err('missing configurations') },
  { name: 'POST without a body', req: ['POST', SR], status: 400, want: err('missing configurations') },
  { name: 'upstreams: PUT with another body id', req: ['PUT', `${UPS}/1`, { id: 3, ...UP }], status: 400, want: err('wrong upstream id') },
  { name: 'upstreams: POST to an id', req: ['POST', `${UPS}/1`, UP], status: 400, want: err('wrong upstream id, do not need it') },
  { name: 'services: POST to an id', req: ['POST', `${SVC}/1`, {}], status: 400, want: err('wrong service id, do not need it') },
  { name: 'services: PUT without any id', req: ['PUT', SVC, {}], status: 400, want: err('missing service id') },
  { name: 'create_time in the body', req: route({ create_time: 1 }), status: 400, want: err('the property is forbidden:  create_time') },
  { name: 'update_time in the body', req: route({ update_time: 1 }), status: 400, want: err('the property is forbidden:  update_time') },
  { name: 'create_time 0 (Lua: 0 is true)', req: route({ create_time: 0 }), status: 400, want: err('the property is forbidden:  create_time') },
  { name: 'create_time null (Lua: cjson.null is true)', req: route({ create_time: null }), status: 400, want: err('the property is forbidden:  create_time') },
  { name: 'create_time is checked before update_time', req: route({ update_time: 1, create_time: 1 }), status: 400, want: err('the property is forbidden:  create_time') },
  { name: 'upstream.create_time', req: routeUp({ create_time: 1 }), status: 400, want: err('the property is forbidden:  upstream.create_time') },
  { name: 'plugins.update_time', req: route({ plugins: { update_time: 1 } }), status: 400, want: err('the property is forbidden:  plugins.update_time') },
  { name: 'upstreams: POST with create_time', req: ['POST', UPS, { ...UP, create_time: 1 }], status: 400, want: err('the property is forbidden:  create_time') },
];

const BIG = 1572864;
const sized = (n: number) => `{"desc":"${'a'.repeat(n - 11)}"}`;
const nested = (depth: number) => `{"desc":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

const requestCases: Case[] = [
  { name: 'a body one byte over 1.5 MiB', req: ['PUT', `${SR}/1`, sized(BIG + 1)], status: 400, want: err(`invalid request body: request size ${BIG + 1} is greater than the maximum size 1572864 allowed`) },
  { name: 'a body of 2000000 bytes', req: ['POST', UPS, sized(2_000_000)], status: 400, want: err('invalid request body: request size 2000000 is greater than the maximum size 1572864 allowed') },
  { name: 'a body of exactly 1.5 MiB is read (and then fails the schema)', req: ['PUT', `${SR}/1`, sized(BIG)], status: 400, want: conf(`property "desc" validation failed: string too long, expected at most 256, got ${BIG - 11}`) },
  // The 1001st opener is character 1008: `{"desc":` takes 8 characters, the first of them the first opener.
  { name: 'a body nested 1001 deep (cjson decode_max_depth)', req: ['PUT', `${SR}/1`, nested(1001)], status: 400, want: err('invalid request body: Found too many nested data structures (1001) at character 1008') },
  { name: 'an array body nested 1001 deep', req: ['PUT', `${SR}/1`, `${'['.repeat(1001)}${']'.repeat(1001)}`], status: 400, want: err('invalid request body: Found too many nested data structures (1001) at character 1001') },
  { name: 'a body nested 1000 deep is decoded', req: ['PUT', `${SR}/1`, nested(1000)], status: 400, want: conf('property "desc" validation failed: wrong type: expected string, got table') },
  { name: 'a body 100000 deep is refused, not a crash', req: ['PUT', `${SR}/1`, nested(100_000)], status: 400, want: err('invalid request body: Found too many nested data structures (1001) at character 1008') },
  { name: 'brackets inside strings do not count as nesting', req: ['PUT', `${SR}/1`, `{"upstream":{"nodes":{"127.0.0.1:1995":1}},"uri":"${'['.repeat(2000)}\\"${'{'.repeat(10)}"}`], status: 400, want: conf('additional properties forbidden, found uri') },
  { name: 'a non-finite number (1e999)', req: ['PUT', `${SR}/1`, '{"server_port": 1e999, "upstream": {"nodes": {"127.0.0.1:1995": 1}}}'], status: 400, want: err('invalid request body: numbers must be finite') },
  { name: 'a nested non-finite number (-1e999)', req: ['PUT', `${UPS}/1`, '{"nodes": {"127.0.0.1:1995": 1}, "timeout": {"connect": -1e999, "send": 1, "read": 1}}'], status: 400, want: err('invalid request body: numbers must be finite') },
  { name: '?ttl=abc on PUT', req: ['PUT', `${SR}/1?ttl=abc`, { upstream: UP }], status: 400, want: err('invalid argument ttl: should be a number') },
  { name: '?ttl=abc on POST', req: ['POST', `${UPS}?ttl=abc`, UP], status: 400, want: err('invalid argument ttl: should be a number') },
  { name: '?ttl= (empty) on PUT', req: ['PUT', `${UPS}/1?ttl=`, UP], status: 400, want: err('invalid argument ttl: should be a number') },
  { name: '?ttl=abc on GET (APISIX checks it for every method)', req: ['GET', `${UPS}?ttl=abc`], status: 400, want: err('invalid argument ttl: should be a number') },
  { name: '?ttl=abc comes before the PATCH 405', req: ['PATCH', `${SR}/1?ttl=abc`, {}], status: 400, want: err('invalid argument ttl: should be a number') },
  { name: 'an unknown resource', req: ['GET', '/apisix/admin/foo'], status: 404, want: err('Unsupported resource type: foo') },
  { name: 'an unknown resource, PUT', req: ['PUT', '/apisix/admin/foo/1', {}], status: 404, want: err('Unsupported resource type: foo') },
  { name: 'schema/validate of an unknown resource', req: ['POST', '/apisix/admin/schema/validate/foo', {}], status: 404, want: err('Unsupported resource type: foo') },
  { name: 'a method the Admin API does not route (OPTIONS)', req: ['OPTIONS', `${SR}/1`], status: 404, want: err('not found') },
  { name: 'GET on schema/validate', req: ['GET', '/apisix/admin/schema/validate/stream_routes'], status: 404, want: err('not found') },
  { name: 'POST on plugins/list', req: ['POST', '/apisix/admin/plugins/list', {}], status: 404, want: err('not found') },
  { name: 'a path outside /apisix/admin', req: ['GET', '/apisix/other'], status: 404, want: err('not found') },
  { name: 'plugins/list of an unknown subsystem', req: ['GET', '/apisix/admin/plugins/list?subsystem=foo'], status: 400, want: err('invalid subsystem passed') },
  { name: 'PATCH of a stream route', setup: [route({})], req: ['PATCH', `${SR}/1`, { desc: 'x' }], status: 405, want: err('not supported `PATCH` method for stream route') },
  { name: 'PATCH of a stream route sub path', setup: [route({})], req: ['PATCH', `${SR}/1/desc`, '"x"'], status: 405, want: err('not supported `PATCH` method for stream route') },
  { name: 'PATCH of a missing stream route', req: ['PATCH', `${SR}/9`, { desc: 'x' }], status: 405, want: err('not supported `PATCH` method for stream route') },
];

const STREAM_OFF = err('stream mode is disabled, can not add stream routes');
const HTTP_MODE = { apisix: { proxy_mode: 'http' } };
const streamOffCases: Case[] = (['GET', 'PUT', 'POST', 'DELETE', 'PATCH'] as const).flatMap((m) => [
  { name: `${m} with proxy_mode http`, config: HTTP_MODE, req: [m, m === 'POST' || m === 'GET' ? SR : `${SR}/1`, m === 'PUT' || m === 'POST' ? { upstream: UP } : undefined] as Step, status: 400, want: STREAM_OFF },
]);
streamOffCases.push(
  { name: 'GET one with proxy_mode http', config: HTTP_MODE, req: ['GET', `${SR}/1`], status: 400, want: STREAM_OFF },
  // The stream check comes after the key check (401), before the body is read (400 bad body would be next).
  { name: 'a bad body with proxy_mode http', config: HTTP_MODE, req: ['PUT', `${SR}/1`, '{'], status: 400, want: STREAM_OFF },
  { name: 'no key with proxy_mode http', config: HTTP_MODE, req: ['GET', SR], headers: { 'X-API-KEY': '' }, status: 401, want: { error_msg: 'failed to check token', description: 'missing apikey' } },
);

const checkCases: Case[] = [
  { name: 'remote_addr that passes the IPv6/CIDR pattern but is no address', req: route({ remote_addr: ':/8' }), status: 400, want: err('invalid remote_addr: :/8') },
  { name: 'server_addr that passes the pattern but is no address', req: route({ server_addr: '::/200' }), status: 400, want: err('invalid server_addr: ::/200') },
  { name: 'remote_addrs entry that passes the pattern but is no address', req: route({ remote_addrs: ['10.0.0.0/8', ':/8'] }), status: 400, want: err('invalid remote_addrs: :/8') },
  { name: 'an xRPC protocol (none is implemented)', req: route({ protocol: { name: 'redis' } }), status: 400, want: err('unknown protocol [redis]') },
  { name: 'an xRPC protocol without name fails the schema first', req: route({ protocol: {} }), status: 400, want: conf('property "protocol" validation failed: property "name" is required') },
  { name: 'sni and snis together', req: route({ sni: 'a.com', snis: ['b.com'] }), status: 400, want: err('sni and snis can not be carried together') },
  { name: 'an unknown plugin', req: route({ plugins: { x: {} } }), status: 400, want: err('unknown plugin [x]') },
  { name: 'a plugin APISIX has but stream_plugins does not enable', req: route({ plugins: { prometheus: {} } }), status: 400, want: err('unknown plugin [prometheus]') },
  { name: 'a plugin conf that is not a table', req: route({ plugins: { 'ip-restriction': 1 } }), status: 400, want: err('invalid plugin conf 1 for plugin [ip-restriction]') },
  { name: 'a plugin conf that is null', req: route({ plugins: { 'ip-restriction': null } }), status: 400, want: err('invalid plugin conf null for plugin [ip-restriction]') },
  { name: 'a plugin conf that is a non-empty array', req: route({ plugins: { 'limit-conn': [1] } }), status: 400, want: err('failed to check the configuration of stream plugin [limit-conn]: wrong type: expected object, got table') },
  { name: 'ip-restriction with neither list', req: route({ plugins: { 'ip-restriction': {} } }), status: 400, want: err('failed to check the configuration of stream plugin [ip-restriction]: value should match only one schema, but matches none') },
  { name: 'ip-restriction with both lists', req: route({ plugins: { 'ip-restriction': { whitelist: ['1.1.1.1'], blacklist: ['2.2.2.2'] } } }), status: 400, want: err('failed to check the configuration of stream plugin [ip-restriction]: value should match only one schema, but matches both schemas 1 and 2') },
  { name: 'ip-restriction with a non-IP entry', req: route({ plugins: { 'ip-restriction': { whitelist: [1] } } }), status: 400, want: err('failed to check the configuration of stream plugin [ip-restriction]: property "whitelist" validation failed: failed to validate item 1: object matches none of the required') },
  { name: 'ip-restriction with an entry only the pattern accepts', req: route({ plugins: { 'ip-restriction': { blacklist: ['10.0.0.0/8', ':/8'] } } }), status: 400, want: err('failed to check the configuration of stream plugin [ip-restriction]: invalid ip address: :/8') },
  { name: 'limit-conn without conn', req: route({ plugins: { 'limit-conn': { burst: 0, default_conn_delay: 1, key: 'remote_addr' } } }), status: 400, want: err('failed to check the configuration of stream plugin [limit-conn]: property "conn" is required') },
  { name: 'mqtt-proxy protocol_level a string', req: route({ plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: '4' } } }), status: 400, want: err('failed to check the configuration of stream plugin [mqtt-proxy]: property "protocol_level" validation failed: wrong type: expected integer, got string') },
  { name: 'services: an unknown plugin', req: ['PUT', `${SVC}/1`, { plugins: { x: {} } }], status: 400, want: err('unknown plugin [x]') },
  { name: 'a missing upstream_id', req: ['PUT', `${SR}/1`, { upstream_id: 99 }], status: 400, want: err('failed to fetch upstream info by upstream id [99], response code: 404') },
  { name: 'a missing string upstream_id', req: ['PUT', `${SR}/1`, { upstream_id: 'u9' }], status: 400, want: err('failed to fetch upstream info by upstream id [u9], response code: 404') },
  { name: 'a missing service_id', req: ['PUT', `${SR}/1`, { service_id: 99 }], status: 400, want: err('failed to fetch service info by service id [99], response code: 404') },
  { name: 'services: a missing upstream_id', req: ['PUT', `${SVC}/1`, { upstream_id: '99' }], status: 400, want: err('failed to fetch upstream info by upstream id [99], response code: 404') },
  { name: 'upstreams: map node port 65536', req: ['PUT', `${UPS}/1`, { nodes: { '127.0.0.1:65536': 1 } }], status: 400, want: err('invalid port 65536') },
  { name: 'upstreams: map node port 0', req: ['PUT', `${UPS}/1`, { nodes: { '127.0.0.1:0': 1 } }], status: 400, want: err('invalid port 0') },
  { name: 'inline upstream: map node port 65536', req: routeUp({ nodes: { '127.0.0.1:65536': 1 } }), status: 400, want: err('invalid port 65536') },
  { name: 'services: inline map node port 65536', req: ['PUT', `${SVC}/1`, { upstream: { nodes: { '[::1]:65536': 1 } } }], status: 400, want: err('invalid port 65536') },
  { name: 'upstreams: map node with a non-numeric port', req: ['PUT', `${UPS}/1`, { nodes: { '127.0.0.1:abc': 1 } }], status: 400, want: err('invalid node address: 127.0.0.1:abc') },
  { name: 'upstreams: chash without key', req: ['PUT', `${UPS}/1`, { ...UP, type: 'chash' }], status: 400, want: err('missing key') },
  { name: 'inline upstream: chash without key', req: routeUp({ type: 'chash', hash_on: 'vars' }), status: 400, want: err('missing key') },
  { name: 'upstreams: chash with an unknown vars key', req: ['PUT', `${UPS}/1`, { ...UP, type: 'chash', key: 'not_support' }], status: 400, want: conf('failed to match pattern "^((uri|server_name|server_addr|server_port|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$" with "not_support"') },
  { name: 'upstreams: a missing client_cert_id', req: ['PUT', `${UPS}/1`, { ...UP, tls: { client_cert_id: 99 } }], status: 400, want: err('failed to fetch ssl info by ssl id [99], response code: 404') },
  { name: 'upstreams: a client_cert_id that is a server certificate', store: { '/apisix/ssls/1': { id: '1', type: 'server' } }, req: ['PUT', `${UPS}/1`, { ...UP, tls: { client_cert_id: 1 } }], status: 400, want: err('failed to fetch ssl info by ssl id [1], wrong ssl type') },
];

const useCases: Case[] = [
  {
    name: 'DELETE a service a stream route uses',
    setup: [['PUT', `${SVC}/1`, { upstream: UP }], ['PUT', `${SR}/1`, { service_id: '1' }]],
    req: ['DELETE', `${SVC}/1`], status: 400, want: err('can not delete this service directly, stream_route [1] is still using it now'),
  },
  {
    name: 'DELETE a service with ?force=1 (only "true" forces)',
    setup: [['PUT', `${SVC}/1`, { upstream: UP }], ['PUT', `${SR}/7`, { service_id: 1 }]],
    req: ['DELETE', `${SVC}/1?force=1`], status: 400, want: err('can not delete this service directly, stream_route [7] is still using it now'),
  },
  {
    name: 'DELETE an upstream a stream route uses',
    setup: [['PUT', `${UPS}/1`, UP], ['PUT', `${SR}/1`, { upstream_id: '1' }]],
    req: ['DELETE', `${UPS}/1`], status: 400, want: err('can not delete this upstream directly, stream_route [1] is still using it now'),
  },
  {
    name: 'DELETE an upstream a service uses',
    setup: [['PUT', `${UPS}/1`, UP], ['PUT', `${SVC}/s1`, { upstream_id: 1 }]],
    req: ['DELETE', `${UPS}/1`], status: 400, want: err('can not delete this upstream directly, service [s1] is still using it now'),
  },
  { name: 'DELETE a missing stream route', req: ['DELETE', `${SR}/1`], status: 404, want: { message: 'Key not found' } },
  { name: 'DELETE a missing upstream', req: ['DELETE', `${UPS}/1`], status: 404, want: { message: 'Key not found' } },
];

const patchCases: Case[] = [
  { name: 'PATCH of a missing upstream', req: ['PATCH', `${UPS}/1`, { desc: 'x' }], status: 404, want: { message: 'Key not found' } },
  { name: 'PATCH without an id', req: ['PATCH', UPS, { desc: 'x' }], status: 400, want: err('missing upstream id') },
  { name: 'PATCH without a body', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`], status: 400, want: err('missing new configuration') },
  { name: 'PATCH with a string body', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`, '"x"'], status: 400, want: err('invalid configuration') },
  { name: 'PATCH with an array body', setup: [['PUT', `${SVC}/1`, {}]], req: ['PATCH', `${SVC}/1`, [1]], status: 400, want: err('invalid configuration') },
  { name: 'PATCH below a string field', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1/type/x`, '"y"'], status: 400, want: err('invalid sub-path: /type') },
  { name: 'PATCH that breaks the schema', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`, { retries: -1 }], status: 400, want: conf('property "retries" validation failed: expected -1 to be at least 0') },
  { name: 'PATCH that removes nodes', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`, { nodes: null }], status: 400, want: conf('value should match only one schema, but matches none') },
  { name: 'PATCH with a __proto__ key', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`, '{"__proto__": {"nodes": {"1.1.1.1:1": 1}}}'], status: 400, want: conf('additional properties forbidden, found __proto__') },
  { name: 'PATCH that changes the id', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1`, { id: '2' }], status: 400, want: err('wrong upstream id') },
  { name: 'PATCH sub path with a bad port', setup: [['PUT', `${UPS}/1`, UP]], req: ['PATCH', `${UPS}/1/nodes`, { '127.0.0.1:65536': 1 }], status: 400, want: err('invalid port 65536') },
  { name: 'PATCH of a service to a missing upstream_id', setup: [['PUT', `${SVC}/1`, {}]], req: ['PATCH', `${SVC}/1`, { upstream_id: 'nope' }], status: 400, want: err('failed to fetch upstream info by upstream id [nope], response code: 404') },
];

const tables = [
  ['schema', schemaCases], ['ids and timestamps', idCases], ['request', requestCases], ['stream mode', streamOffCases],
  ['checks', checkCases], ['in use', useCases], ['patch', patchCases],
] as const;

for (const [group, cases] of tables) {
  suite(`admin errors: ${group}`, { concurrency: 8 }, () => {
    for (const c of cases) {
      test(`${c.req[0]} ${c.req[1].length > 60 ? `${c.req[1].slice(0, 60)}…` : c.req[1]}: ${c.name}`, async (t: TestContext) => {
        t.plan(4);
        const g = await startTestGateway(t, c.config ?? {});
        for (const [k, v] of Object.entries(c.store ?? {})) await g.gw.store.put(k, v as never);
        for (const [m, p, b] of c.setup ?? []) await must(g, m, p, b);
        const rev = await g.gw.store.revision();
        const [method, path, body] = c.req;
        const res = await g.admin(method, path, body, c.headers);
        t.assert.strictEqual(res.status, c.status, res.text.slice(0, 300));
        t.assert.deepStrictEqual(res.json, c.want);
        t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
        t.assert.strictEqual(await g.gw.store.revision(), rev, 'a refused request writes nothing');
      });
    }
  });
}

test('a body that is not JSON: invalid request body with the parser\'s reason, and the body echoed in req_body', async (t: TestContext) => {
  t.plan(3);
  const g = await startTestGateway(t);
  const res = await g.admin('PUT', `${SR}/1`, '{"upstream": ');
  t.assert.strictEqual(res.status, 400);
  t.assert.match((res.json as { error_msg: string }).error_msg, /^invalid request body: \S/);
  t.assert.strictEqual((res.json as { req_body: string }).req_body, '{"upstream": ');
});

test('stream routes are refused with 400 for every method when apisix.stream_proxy is absent', async (t: TestContext) => {
  t.plan(5);
  const g = await startGatewayWithConfig(t, configWith((c) => { delete c.apisix.stream_proxy; }));
  for (const [m, p, b] of [['GET', SR], ['GET', `${SR}/1`], ['PUT', `${SR}/1`, { upstream: UP }], ['POST', SR, { upstream: UP }], ['DELETE', `${SR}/1`]] as const) {
    const res = await g.admin(m, p, b);
    t.assert.deepStrictEqual([res.status, res.json], [400, STREAM_OFF], `${m} ${p}`);
  }
});

test('with proxy_mode http the other resources still work', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t, HTTP_MODE);
  const res = await g.admin('PUT', `${UPS}/1`, UP);
  t.assert.strictEqual(res.status, 201);
});

test('?force=true deletes a service and an upstream that stream routes still use', async (t: TestContext) => {
  t.plan(4);
  const g = await startTestGateway(t);
  await must(g, 'PUT', `${UPS}/1`, UP);
  await must(g, 'PUT', `${SVC}/1`, { upstream_id: '1' });
  await must(g, 'PUT', `${SR}/1`, { service_id: '1', upstream_id: '1' });
  const svc = await g.admin('DELETE', `${SVC}/1?force=true`);
  t.assert.deepStrictEqual([svc.status, svc.json], [200, { deleted: '1', key: '/apisix/services/1' }]);
  const ups = await g.admin('DELETE', `${UPS}/1?force=true`);
  t.assert.deepStrictEqual([ups.status, ups.json], [200, { deleted: '1', key: '/apisix/upstreams/1' }]);
  t.assert.strictEqual((await g.admin('GET', `${SVC}/1`)).status, 404);
  t.assert.strictEqual((await g.admin('GET', `${SR}/1`)).status, 200, 'the stream route stays');
});

test('a service or upstream nobody uses any more can be deleted without force', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  await must(g, 'PUT', `${UPS}/1`, UP);
  await must(g, 'PUT', `${SR}/1`, { upstream_id: '1' });
  await must(g, 'PUT', `${SR}/1`, { upstream: UP });
  t.assert.strictEqual((await g.admin('DELETE', `${UPS}/1`)).status, 200);
  t.assert.strictEqual((await g.admin('GET', `${UPS}/1`)).status, 404);
});

test('?ttl=1 makes the item expire: it is gone from GET and from the list', async (t: TestContext) => {
  t.plan(5);
  const g = await startTestGateway(t);
  const put = await g.admin('PUT', `${SR}/1?ttl=1`, { upstream: UP });
  t.assert.strictEqual(put.status, 201);
  const post = await g.admin('POST', `${UPS}?ttl=1`, UP);
  t.assert.strictEqual(post.status, 201);
  await must(g, 'PUT', `${SR}/2`, { upstream: UP });
  t.assert.strictEqual((await g.admin('GET', `${SR}/1`)).status, 200, 'there before the ttl');
  await new Promise((resolve) => setTimeout(resolve, 1300));
  t.assert.deepStrictEqual((await g.admin('GET', `${SR}/1`)).json, { message: 'Key not found' });
  const list = await g.admin('GET', SR);
  t.assert.deepStrictEqual((list.json as { total: number }).total, 1);
});
