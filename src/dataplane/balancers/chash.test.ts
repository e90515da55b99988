// chash (issue 5): the ring is APISIX's, checked two independent ways — against picks that APISIX's own test suite
// pins (t/node/chash-balance.t), and against a ring rebuilt here from its definition (lua-resty-balancer's chash.c
// with nginx's CRC32, written out below without zlib); stickiness and spread; minimal movement when one node's
// weight changes or one node goes (≤ 1/N + 5 % of 1000 keys, and only keys of that node); the retry walk; key
// functions (vars, vars_combinations, fallback to remote_addr).
import { test, type TestContext } from 'node:test';
import { UpstreamNode, type PickContext, type Usable } from './balancer.ts';
import { chashKey, ConsistentHash } from './chash.ts';

// ---- an independent model of APISIX's ring -------------------------------------------------------------------

/** nginx's ngx_crc32_table256, built from the reflected polynomial. */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** ngx_crc32_update: no initial or final xor. */
function crcUpdate(crc: number, bytes: Uint8Array): number {
  for (const b of bytes) crc = ((TABLE[(crc ^ b) & 0xff] as number) ^ (crc >>> 8)) >>> 0;
  return crc;
}

/** ngx_crc32_short / lua's ngx.crc32_short: init 0xffffffff, final xor. */
function crc32(s: string | Uint8Array): number {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return (crcUpdate(0xffffffff, bytes) ^ 0xffffffff) >>> 0;
}

interface RefPoint { hash: number; id: string }

/**
 * APISIX balancer/chash.lua + resty/chash.lua + chash.c: weights divided by their gcd; id = server with ':' → '\0';
 * base_hash = crc32(id) xor 0xffffffff; point i = final(update(base_hash, le32(point i-1))) with point -1 = 0;
 * points sorted by hash.
 */
function refRing(servers: Record<string, number>): RefPoint[] {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = Object.values(servers).reduce((a, w) => gcd(a, w), 0) || 1;
  const points: RefPoint[] = [];
  for (const [serv, weight] of Object.entries(servers)) {
    const id = serv.replaceAll(':', '\0');
    const base = (crc32(id) ^ 0xffffffff) >>> 0;
    const prev = new Uint8Array(4);
    let last = 0;
    for (let i = 0; i < (weight / g) * 160; i++) {
      new DataView(prev.buffer).setUint32(0, last, true);
      last = (crcUpdate(base, prev) ^ 0xffffffff) >>> 0;
      points.push({ hash: last, id: serv });
    }
  }
  return points.sort((a, b) => a.hash - b.hash);
}

/** resty.chash _find_id: guess the index from the hash, then scan to the first point >= hash (0 past the end). */
function refFind(points: readonly RefPoint[], key: string): string {
  const hash = crc32(key);
  const n = points.length;
  const step = 2 ** 32 / n;
  const index = Math.min(Math.floor(hash / step), n - 1);
  const at = (i: number): RefPoint => points[i] as RefPoint;
  if (at(index).hash >= hash) {
    for (let i = index; i >= 1; i--) if (at(i - 1).hash < hash) return at(i).id;
    return at(0).id;
  }
  for (let i = index + 1; i < n; i++) if (hash <= at(i).hash) return at(i).id;
  return at(0).id;
}

// ---- helpers ---------------------------------------------------------------------------------------------------

const ALL: Usable = () => true;

function ctx(over: Partial<PickContext> = {}): PickContext {
  return { remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 9100, sni: undefined, mqttClientId: undefined, ...over };
}

/** Nodes from `{ "host:port": weight }`. */
function nodes(servers: Record<string, number>): UpstreamNode[] {
  return Object.entries(servers).map(([addr, weight], i) => {
    const colon = addr.lastIndexOf(':');
    const host = addr.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    return new UpstreamNode({ host, ip: host, port: Number(addr.slice(colon + 1)), weight, priority: 0, slot: i + 1 });
  });
}

/** A ring whose key is the SNI field, so a test can hash any string. */
function ringOf(servers: Record<string, number>): ConsistentHash {
  return new ConsistentHash(nodes(servers), (c) => c.sni ?? '');
}

function pickKey(ring: ConsistentHash, key: string, usable: Usable = ALL): string {
  return ring.pick(ctx({ sni: key }), usable)?.addr ?? '-';
}

const KEYS = Array.from({ length: 1000 }, (_, i) => `key-${i}-${(i * 2654435761) % 1000003}`);

function counts(picks: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p] = (out[p] ?? 0) + 1;
  return out;
}

// ---- APISIX compatibility ---------------------------------------------------------------------------------------

const S3 = { '127.0.0.1:1980': 1, '127.0.0.1:1981': 1, '127.0.0.1:1982': 1 };

// Picks pinned by APISIX's own tests (t/node/chash-balance.t): key remote_addr = 127.0.0.1; then arg_device_id
// 1..18 and query_string var=2&var2=1..18 over the same three nodes.
const APISIX_CASES: readonly { name: string; servers: Record<string, number>; keys: readonly string[]; want: Record<string, number> }[] = [
  { name: 'two nodes, remote_addr 127.0.0.1', servers: { '127.0.0.1:1980': 1, '127.0.0.1:1981': 1 }, keys: ['127.0.0.1'], want: { '127.0.0.1:1980': 1 } },
  { name: 'three nodes, remote_addr 127.0.0.1', servers: S3, keys: ['127.0.0.1'], want: { '127.0.0.1:1982': 1 } },
  { name: 'weights 0 drop out', servers: { '127.0.0.1:1980': 1, '127.0.0.1:1981': 0, '127.0.0.1:1982': 0 }, keys: ['127.0.0.1'], want: { '127.0.0.1:1980': 1 } },
  {
    name: 'device ids 1..18', servers: S3, keys: Array.from({ length: 18 }, (_, i) => String(i + 1)),
    want: { '127.0.0.1:1980': 6, '127.0.0.1:1981': 7, '127.0.0.1:1982': 5 },
  },
  {
    name: 'query strings var=2&var2=1..18', servers: S3, keys: Array.from({ length: 18 }, (_, i) => `var=2&var2=${i + 1}`),
    want: { '127.0.0.1:1980': 5, '127.0.0.1:1981': 8, '127.0.0.1:1982': 5 },
  },
];

for (const c of APISIX_CASES) {
  test(`chash: APISIX's own pick: ${c.name}`, (t: TestContext) => {
    t.plan(2);
    const ring = ringOf(c.servers);
    t.assert.deepStrictEqual(counts(c.keys.map((k) => pickKey(ring, k))), c.want);
    // the independent model agrees with APISIX too (so it is a fair reference for the cases below)
    const ref = refRing(c.servers);
    t.assert.deepStrictEqual(counts(c.keys.map((k) => refFind(ref, k))), c.want);
  });
}

const RING_CASES: readonly { name: string; servers: Record<string, number> }[] = [
  { name: 'three equal nodes', servers: S3 },
  { name: 'weights 5:3:1', servers: { '10.0.0.1:80': 5, '10.0.0.2:80': 3, '10.0.0.3:8080': 1 } },
  { name: 'weights 100:100:300 (gcd 100: the ring of 1:1:3)', servers: { '10.0.0.1:80': 100, '10.0.0.2:80': 100, '10.0.0.3:80': 300 } },
  { name: 'one node', servers: { '192.168.1.10:6379': 2 } },
  { name: 'IPv6 nodes ([v6]:port, every ":" becomes "\\0")', servers: { '[::1]:1980': 1, '[fe80::1]:1980': 2 } },
];

for (const c of RING_CASES) {
  test(`chash: same picks as the ring rebuilt from its definition: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    const ring = ringOf(c.servers);
    const ref = refRing(c.servers);
    const diff = KEYS.filter((k) => pickKey(ring, k) !== refFind(ref, k));
    t.assert.deepStrictEqual(diff, []);
  });
}

test('chash: weights with a common factor give the same ring as the reduced weights (APISIX divides by the gcd)', (t: TestContext) => {
  t.plan(1);
  const a = ringOf({ '10.0.0.1:80': 100, '10.0.0.2:80': 200 });
  const b = ringOf({ '10.0.0.1:80': 1, '10.0.0.2:80': 2 });
  t.assert.deepStrictEqual(KEYS.filter((k) => pickKey(a, k) !== pickKey(b, k)), []);
});

// ---- stickiness and spread --------------------------------------------------------------------------------------

test('chash: the same key always gets the same node; 1000 keys spread over 4 equal nodes', (t: TestContext) => {
  t.plan(2);
  const ring = ringOf({ '10.0.0.1:80': 1, '10.0.0.2:80': 1, '10.0.0.3:80': 1, '10.0.0.4:80': 1 });
  const unstable = KEYS.slice(0, 100).filter((k) => {
    const first = pickKey(ring, k);
    for (let i = 0; i < 20; i++) if (pickKey(ring, k) !== first) return true;
    return false;
  });
  t.assert.deepStrictEqual(unstable, []);
  const shares = Object.values(counts(KEYS.map((k) => pickKey(ring, k))));
  // every node gets a fair share: 25 % ± 10 %
  t.assert.ok(shares.length === 4 && shares.every((n) => n >= 150 && n <= 350), `shares ${shares.join(' ')}`);
});

// ---- minimal movement -------------------------------------------------------------------------------------------

interface MoveCase {
  readonly name: string;
  readonly before: Record<string, number>;
  readonly after: Record<string, number>;
  /** The node whose weight changed or that went away: every moved key must come from it or go to it. */
  readonly changed: string;
}

const equal = (n: number, w = 1): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`10.0.${i}.1:80`, w]));
const without = (s: Record<string, number>, k: string): Record<string, number> => Object.fromEntries(Object.entries(s).filter(([x]) => x !== k));

const MOVE_CASES: readonly MoveCase[] = [
  { name: '4 nodes, one goes 1 → 2', before: equal(4), after: { ...equal(4), '10.0.0.1:80': 2 }, changed: '10.0.0.1:80' },
  { name: '10 nodes, one goes 1 → 2', before: equal(10), after: { ...equal(10), '10.0.7.1:80': 2 }, changed: '10.0.7.1:80' },
  { name: '3 nodes 2:3:4, one goes 3 → 5', before: { '10.0.0.1:80': 2, '10.0.1.1:80': 3, '10.0.2.1:80': 4 }, after: { '10.0.0.1:80': 2, '10.0.1.1:80': 5, '10.0.2.1:80': 4 }, changed: '10.0.1.1:80' },
  { name: '4 nodes, one goes 2 → 1', before: { ...equal(4), '10.0.3.1:80': 2 }, after: equal(4), changed: '10.0.3.1:80' },
  { name: '5 nodes, one removed', before: equal(5), after: without(equal(5), '10.0.2.1:80'), changed: '10.0.2.1:80' },
  { name: '10 nodes, one removed', before: equal(10), after: without(equal(10), '10.0.9.1:80'), changed: '10.0.9.1:80' },
  { name: '4 nodes weight 3, one removed (gcd stays 3)', before: equal(4, 3), after: without(equal(4, 3), '10.0.0.1:80'), changed: '10.0.0.1:80' },
];

for (const c of MOVE_CASES) {
  test(`chash: minimal movement: ${c.name}`, (t: TestContext) => {
    t.plan(2);
    const before = ringOf(c.before);
    const after = ringOf(c.after);
    const moved = KEYS.filter((k) => pickKey(before, k) !== pickKey(after, k));
    const n = Object.keys(c.before).length;
    const bound = (1 / n + 0.05) * KEYS.length;
    t.assert.ok(moved.length > 0 && moved.length <= bound, `${moved.length} of ${KEYS.length} keys moved; bound ${bound.toFixed(0)}`);
    const foreign = moved.filter((k) => pickKey(before, k) !== c.changed && pickKey(after, k) !== c.changed);
    t.assert.deepStrictEqual(foreign, [], 'keys moved between two nodes that did not change');
  });
}

// ---- the retry walk ---------------------------------------------------------------------------------------------

test('chash: a node that cannot be used hands its keys to the next node clockwise; other keys stay', (t: TestContext) => {
  t.plan(2);
  const servers = { '10.0.0.1:80': 1, '10.0.0.2:80': 1, '10.0.0.3:80': 1 };
  const ring = ringOf(servers);
  const down = '10.0.0.2:80';
  const notDown: Usable = (n) => n.addr !== down;
  const ref = refRing(servers);
  const expected = (k: string): string => {
    // the reference walk: from the key's point, clockwise to the first point of another node
    const hash = crc32(k);
    let i = ref.findIndex((p) => p.hash >= hash);
    if (i < 0) i = 0;
    while ((ref[i] as RefPoint).id === down) i = (i + 1) % ref.length;
    return (ref[i] as RefPoint).id;
  };
  t.assert.deepStrictEqual(KEYS.filter((k) => pickKey(ring, k, notDown) !== expected(k)), []);
  t.assert.deepStrictEqual(KEYS.filter((k) => pickKey(ring, k) !== down && pickKey(ring, k, notDown) !== pickKey(ring, k)), []);
});

test('chash: a light node behind a heavy unusable one is still found (weights 100:1)', (t: TestContext) => {
  t.plan(1);
  const ring = ringOf({ '10.0.0.1:80': 100, '10.0.0.2:80': 1 });
  const picks = counts(KEYS.map((k) => pickKey(ring, k, (n) => n.addr !== '10.0.0.1:80')));
  t.assert.deepStrictEqual(picks, { '10.0.0.2:80': KEYS.length });
});

test('chash: nothing usable, no nodes, or every weight 0 → no node', (t: TestContext) => {
  t.plan(3);
  t.assert.equal(pickKey(ringOf(S3), 'k', () => false), '-');
  t.assert.equal(pickKey(ringOf({}), 'k'), '-');
  t.assert.equal(pickKey(ringOf({ '10.0.0.1:80': 0, '10.0.0.2:80': 0 }), 'k'), '-');
});

// ---- key functions ----------------------------------------------------------------------------------------------

const KEY_CTX = ctx({ remoteAddr: '10.1.2.3', remotePort: 51234, serverAddr: '10.9.9.9', serverPort: 9100, sni: 'a.example', mqttClientId: 'dev-7' });
const BARE_CTX = ctx({ remoteAddr: '10.1.2.3', remotePort: 51234, sni: undefined, mqttClientId: undefined });

const KEY_CASES: readonly { hashOn: string; key: string | undefined; c: PickContext; want: string }[] = [
  { hashOn: 'vars', key: 'remote_addr', c: KEY_CTX, want: '10.1.2.3' },
  { hashOn: 'vars', key: 'remote_port', c: KEY_CTX, want: '51234' },
  { hashOn: 'vars', key: 'server_addr', c: KEY_CTX, want: '10.9.9.9' },
  { hashOn: 'vars', key: 'server_port', c: KEY_CTX, want: '9100' },
  { hashOn: 'vars', key: 'server_name', c: KEY_CTX, want: 'a.example' },
  { hashOn: 'vars', key: 'mqtt_client_id', c: KEY_CTX, want: 'dev-7' },
  { hashOn: 'vars', key: 'server_name', c: BARE_CTX, want: '10.1.2.3' },
  { hashOn: 'vars', key: 'mqtt_client_id', c: BARE_CTX, want: '10.1.2.3' },
  { hashOn: 'vars', key: 'no_such_var', c: KEY_CTX, want: '10.1.2.3' },
  { hashOn: 'vars', key: undefined, c: KEY_CTX, want: '10.1.2.3' },
  { hashOn: 'vars_combinations', key: '$remote_addr$remote_port', c: KEY_CTX, want: '10.1.2.351234' },
  { hashOn: 'vars_combinations', key: '$remote_addr:${server_port}', c: KEY_CTX, want: '10.1.2.3:9100' },
  { hashOn: 'vars_combinations', key: '$mqtt_client_id-$server_name', c: KEY_CTX, want: 'dev-7-a.example' },
  { hashOn: 'vars_combinations', key: 'x-$mqtt_client_id-$remote_port', c: BARE_CTX, want: 'x--51234' },
  // no variable resolved → remote_addr, even with literal text around (APISIX: n_resolved == 0)
  { hashOn: 'vars_combinations', key: 'x-$mqtt_client_id', c: BARE_CTX, want: '10.1.2.3' },
  { hashOn: 'vars_combinations', key: 'no variables', c: KEY_CTX, want: '10.1.2.3' },
  // \w+ is greedy, as in APISIX: $remote_addr1 is one unknown variable
  { hashOn: 'vars_combinations', key: '$remote_addr1', c: KEY_CTX, want: '10.1.2.3' },
  { hashOn: 'header', key: 'x-user', c: KEY_CTX, want: '10.1.2.3' },
  { hashOn: 'consumer', key: undefined, c: KEY_CTX, want: '10.1.2.3' },
];

for (const c of KEY_CASES) {
  test(`chash key: hash_on ${c.hashOn}, key ${String(c.key)}${c.c === BARE_CTX ? ' (no sni, no mqtt id)' : ''} → ${c.want}`, (t: TestContext) => {
    t.plan(1);
    t.assert.equal(chashKey(c.hashOn, c.key)(c.c), c.want);
  });
}
