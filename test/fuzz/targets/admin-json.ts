// Fuzzes the Admin API's schema checks: APISIX's schema_def.lua (src/controlplane/schema/apisix.ts) as every resource
// declares it (`validate` of resourceDefs: stream_routes, upstreams, services, ssls, plugin_metadata), run by the
// hand-written validator (src/lib/jsonschema.ts), and notAnObject, the first check of a body. Inputs: bodies built
// from the real property names with plausible, boundary and wrong values, then mutated (a value replaced by random
// JSON, a key dropped, an unknown or `__proto__` key added as JSON.parse makes it, a deep nesting up to the 1000
// levels the admin server lets through), and random JSON values. Checked: neither throws; each answers undefined or
// a non-empty message; notAnObject is undefined exactly for plain objects, else `wrong type: expected object, got
// <lua type>`; validate gives the same answer on a clone (deterministic), the defaults it writes into the body do
// not change the answer of a second validation, a valid body stays valid after a JSON round trip (etcd's copy), and
// the synchronous resource checks (the L4 refusals, schema/l4-only.ts) answer a message or nothing. The checks that
// read the store (references) are asynchronous and are not fuzzed here.
import fc from 'fast-check';
import { resourceDefs } from '../../../src/controlplane/admin/index.ts';
import type { ResourceDef } from '../../../src/controlplane/admin/resource.ts';
import { routeNotForStreams, serviceNotForStreams, sslNotForStreams, upstreamNotForStreams } from '../../../src/controlplane/schema/l4-only.ts';
import type { JsonObject } from '../../../src/controlplane/store/store.ts';
import { notAnObject } from '../../../src/lib/jsonschema.ts';
import { Keyring } from '../../../src/lib/keyring.ts';
import { json, type FuzzTarget } from '../harness.ts';
import { pick, prng } from '../prng.ts';

/** A value built from the PRNG, with `junk` (fast-check's random JSON) to draw wrong values from. */
export type Gen = (r: () => number, junk: readonly unknown[]) => unknown;
export type Model = Readonly<Record<string, Gen>>;

const L4: Readonly<Record<string, (v: JsonObject) => string | undefined>> = {
  stream_routes: routeNotForStreams, upstreams: upstreamNotForStreams, services: serviceNotForStreams, ssls: sslNotForStreams,
};
const DEFS: ReadonlyMap<string, ResourceDef> = new Map(resourceDefs(new Keyring(['qeddd145sfvddff3'])).map((d) => [d.name, d]));

const WRONG: readonly unknown[] = [null, '', 0, -1, 1.5, 65536, 'x'.repeat(300), true];
/** A wrong value: one of fast-check's, a boundary one, an empty table. */
const wrong: Gen = (r, junk) => (r() < 0.5 && junk.length > 0 ? structuredClone(pick(r, junk)) : r() < 0.2 ? (r() < 0.5 ? [] : {}) : pick(r, WRONG));
/** Mostly `g`, once in 12 a wrong value. */
const v = (g: Gen): Gen => (r, junk) => (r() < 1 / 12 ? wrong(r, junk) : g(r, junk));
/** One of `good`, or (one in 8) one of `bad`: the values that just miss. */
export const c = (good: readonly unknown[], bad: readonly unknown[] = []): Gen => v((r) => fresh(bad.length > 0 && r() < 1 / 8 ? pick(r, bad) : pick(r, good)));
/** A constant object is copied: the mutations below change what they get. */
const fresh = (x: unknown): unknown => (x !== null && typeof x === 'object' ? structuredClone(x) : x);
/** An object with some of the model's keys (`required` ones always). */
export const obj = (model: Model, required: readonly string[] = [], share = 0.35): Gen => v((r, junk) => {
  const o: Record<string, unknown> = {};
  for (const [k, g] of Object.entries(model)) if (required.includes(k) || r() < share) o[k] = g(r, junk);
  return o;
});
export const arr = (g: Gen, max = 3): Gen => v((r, junk) => Array.from({ length: Math.floor(r() * (max + 1)) }, () => g(r, junk)));
export const dict = (keys: readonly string[], g: Gen): Gen => v((r, junk) => {
  const o: Record<string, unknown> = {};
  for (let n = Math.floor(r() * 4); n > 0; n--) setOwn(o, pick(r, keys), g(r, junk));
  return o;
});

const id = c(['1', 'r-1', 'a.b_c', 7, 1], [0, -3, '', 'has space', 'x'.repeat(65), 2.5]);
const host = c(['127.0.0.1', 'example.com', '*.example.com', '*', '::1', '[::1]', 'EXAMPLE.org'], ['a b', '', '*x*']);
const cidr = c(['127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', '::ffff:1.2.3.4'], ['1.2.3.4/33', '300.1.1.1', 'fe80::1/129', 'abc', '']);
const port = c([1, 80, 9100, 65535], [0, 65536, -1, 443.5, '80']);
const num = c([1, 0.5, 3, 60], [0, -1, '1']);
const int = c([1, 2, 5, 100, 254], [255, 0, -1, 1.5]);
const bool = c([true, false], ['true', 0]);
const pem = c([`-----BEGIN CERTIFICATE-----\n${'A'.repeat(200)}\n-----END CERTIFICATE-----\n`, `-----BEGIN PRIVATE KEY-----\n${'B'.repeat(150)}\n-----END PRIVATE KEY-----\n`,
  '$secret://vault/ssl/cert', '$env://SSL_KEY', 'C'.repeat(128)], ['short', 'D'.repeat(127), '$vault://x']);
const labels = dict(['env', 'team', 'a b', ''], c(['prod', 'v1'], ['x y', '']));
const anyJson: Gen = (r, junk) => (junk.length > 0 && r() < 0.7 ? structuredClone(pick(r, junk)) : { whitelist: ['127.0.0.1'] });
const plugins = dict(['ip-restriction', 'limit-conn', 'syslog', 'traffic-split', 'mqtt-proxy', 'nope'], anyJson);
const statuses = arr(c([200, 302, 404, 500, 599], [199, 600]), 4);
const common: Model = { id, name: c(['n'], ['', 'x'.repeat(257)]), desc: c(['d', '']), labels, create_time: c([1700000000], ['now']), update_time: c([1700000000]) };

const checks = obj({
  active: obj({
    type: c(['http', 'https', 'tcp', 'udp'], ['grpc']), timeout: num, concurrency: int, host, port, http_path: c(['/', '/status']),
    https_verify_certificate: bool, healthy: obj({ interval: int, http_statuses: statuses, successes: int }),
    unhealthy: obj({ interval: int, http_statuses: statuses, http_failures: int, tcp_failures: int, timeouts: int }),
    req_headers: arr(c(['X-A: 1', ''])), req_data: c(['ping'], ['']), expected_resp: c(['pong', '']),
  }),
  passive: obj({
    type: c(['http', 'tcp', 'udp']), healthy: obj({ http_statuses: statuses, successes: int }),
    unhealthy: obj({ http_statuses: statuses, tcp_failures: int, timeouts: int, http_failures: int }),
  }),
});
const nodeKeys = dict(['127.0.0.1:1980', 'a.example:80', '[::1]:443', '127.0.0.1', 'x:0', '__proto__'], int);
const nodeList = arr(obj({ host, port, weight: int, priority: int, metadata: c([{}, { a: 1 }, []], [1]) }, ['host', 'weight']));
const upstream = obj({
  ...common, nodes: (r, junk) => (r() < 0.6 ? nodeKeys : nodeList)(r, junk), retries: int, retry_timeout: num,
  timeout: obj({ connect: num, send: num, read: num }, ['connect', 'send', 'read']),
  tls: obj({ client_cert_id: id, client_cert: pem, client_key: pem, verify: bool }),
  keepalive_pool: obj({ size: int, idle_timeout: num, requests: int }),
  type: c(['roundrobin', 'chash', 'ewma', 'least_conn'], ['', 1]), checks, hash_on: c(['vars', 'header', 'consumer'], ['bogus']), key: c(['remote_addr', 'server_port', 'arg_x'], ['']),
  scheme: c(['tcp', 'tls', 'udp', 'http'], ['quic']), discovery_type: c(['dns', 'nacos']), discovery_args: obj({ namespace_id: c(['ns']), group_name: c(['g']) }),
  pass_host: c(['pass', 'node', 'rewrite'], ['keep']), upstream_host: host, service_name: c(['svc'], ['']),
}, ['nodes'], 0.2);

/** A body for each resource, from APISIX's property names (also used by the apisix-yaml target). */
export const BODIES: Readonly<Record<string, Gen>> = {
  stream_routes: obj({
    ...common, remote_addr: cidr, server_addr: cidr, server_port: port, sni: host, upstream, upstream_id: id, service_id: id, plugins,
    protocol: obj({ name: c(['redis', 'dubbo'], [1]), superior_id: id, conf: c([{}, []]), logger: c([[], {}]) }, ['name']),
    remote_addrs: arr(cidr), snis: arr(host), tls_passthrough: bool,
  }, [], 0.25),
  upstreams: upstream,
  services: obj({ ...common, plugins, upstream, upstream_id: id, script: c(['return 1 -- lua'], ['short']), enable_websocket: bool, hosts: arr(host) }),
  ssls: obj({
    ...common, type: c(['server', 'client'], ['peer']), cert: pem, key: pem, sni: host, snis: arr(host), certs: arr(pem, 2), keys: arr(pem, 2),
    client: obj({ ca: pem, depth: int, skip_mtls_uri_regex: arr(c(['^/x'], [1])) }, ['ca']), status: c([1, 0], [2]),
    ssl_protocols: arr(c(['TLSv1.1', 'TLSv1.2', 'TLSv1.3'], ['SSLv3']), 4),
  }, ['cert', 'key', 'sni'], 0.2),
  plugin_metadata: dict(['log_format', 'max_pending_entries', 'x', '__proto__', 'id', 'name'], anyJson),
};
const ADDED_KEYS = ['__proto__', 'constructor', 'toString', 'unknown', 'id', 'nodes', 'upstream', 'plugins', 'type', 'sni'];

/** Every object and array in `x` with its depth (the outermost is 1). */
function containers(x: unknown, depth = 1, out: [object, number][] = []): [object, number][] {
  if (x === null || typeof x !== 'object') return out;
  out.push([x, depth]);
  for (const y of Object.values(x)) containers(y, depth + 1, out);
  return out;
}

/** An own data property, as JSON.parse makes one (a `__proto__` key too). */
function setOwn(o: object, k: string, value: unknown): void {
  Object.defineProperty(o, k, { value, writable: true, enumerable: true, configurable: true });
}

function nested(depth: number): unknown {
  let x: unknown = [];
  for (let i = 1; i < depth; i++) x = [x];
  return x;
}

/** One mutation: a value replaced, a key dropped, a key added, or a value nested deep (by default ≤ the 1000 levels the admin server reads). */
export function mutate(r: () => number, body: unknown, junk: readonly unknown[], deepest = 999): unknown {
  const chosen = pick(r, containers(body)) as [object, number] | undefined;
  if (chosen === undefined) return wrong(r, junk);
  const [at, depth] = chosen;
  const key = pick(r, Object.keys(at)) as string | undefined;
  const op = r();
  if (op < 0.4 && key !== undefined) setOwn(at, key, wrong(r, junk));
  else if (op < 0.6 && key !== undefined) delete (at as Record<string, unknown>)[key];
  else if (op < 0.92 && !Array.isArray(at)) setOwn(at, pick(r, ADDED_KEYS), wrong(r, junk));
  else if (key !== undefined) setOwn(at, key, nested(1 + Math.floor(r() ** 2 * Math.max(0, deepest - depth))));
  return body;
}

interface Input { readonly res: string; readonly body: unknown }
const names = Object.keys(BODIES);

// fast-check draws a seed and a few random JSON values per input; the model above builds the body from them.
const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.tuple(fc.integer(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 })).map(([seed, junk]): Input => {
      const r = prng(seed);
      const res = pick(r, names);
      let body = (BODIES[res] as Gen)(r, junk);
      if (r() < 0.4) for (let n = 1 + Math.floor(r() * 3); n > 0; n--) body = mutate(r, body, junk);
      return { res, body };
    }),
  },
  { weight: 1, arbitrary: fc.record({ res: fc.constantFrom(...names), body: fc.jsonValue({ maxDepth: 3 }) }) },
);

const isPlain = (x: unknown): boolean => x !== null && typeof x === 'object' && !Array.isArray(x);
const badAnswer = (r: unknown): boolean => r !== undefined && (typeof r !== 'string' || r === '');

export const target: FuzzTarget<Input> = {
  name: 'admin-json',
  arbitrary,
  show: (x) => json(x).slice(0, 4000),
  boundMs: 50, // a body nested 999 deep takes ~12 ms for the four validations below
  mustReach: ['valid', 'invalid'],
  check({ res, body }) {
    const def = DEFS.get(res);
    if (def === undefined) return { fail: `no resource ${res}` };
    const shape = notAnObject(body);
    if (isPlain(body) ? shape !== undefined : !/^wrong type: expected object, got (table|string|number|boolean|userdata)$/.test(shape ?? '')) {
      return { fail: `notAnObject answered ${String(shape)}` };
    }
    const first = structuredClone(body);
    const r1 = def.validate(first);
    const r2 = def.validate(structuredClone(body));
    if (badAnswer(r1)) return { fail: `validate answered ${JSON.stringify(r1)}` };
    if (r1 !== r2) return { fail: `not deterministic: ${String(r1)} / ${String(r2)}` };
    const again = def.validate(first);
    if (again !== r1) return { fail: `the defaults written by a validation change the answer: ${String(r1)} / ${String(again)}` };
    if (r1 === undefined) {
      const stored = def.validate(JSON.parse(JSON.stringify(first)));
      if (stored !== undefined) return { fail: `valid, but invalid after a JSON round trip: ${stored}` };
      // the synchronous part of the resource checks: the L4 refusals (the Admin API's and the snapshot builder's)
      const l4 = L4[res]?.(first as JsonObject);
      if (l4 !== undefined && (typeof l4 !== 'string' || l4 === '')) return { fail: `L4 check answered ${JSON.stringify(l4)}` };
    }
    return { kind: r1 === undefined ? 'valid' : 'invalid' };
  },
};
