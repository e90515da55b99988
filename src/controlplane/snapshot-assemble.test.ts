// The snapshot's assembly alone (issue 14): items and explicit inputs (DNS answers, node slots, keyring) in, the
// snapshot and its problems out, as values. No store, no resolver, no builder.
import { test, type TestContext } from 'node:test';
import { Keyring } from '../lib/keyring.ts';
import { assembleSnapshot, upstreamSources, type AssembleInput, type Items } from './snapshot-assemble.ts';
import { DEFAULT_TIMEOUT, slotKey, UpstreamMemo, upstreamNodes } from './snapshot-upstream.ts';
import type { JsonObject, StoreItem } from './store/store.ts';

const items = (entries: Record<string, JsonObject>, base = 1): Items =>
  new Map(Object.entries(entries).map(([id, value], i) => [id, { item: { key: `/apisix/x/${id}`, value, createdIndex: base + i, modifiedIndex: base + i }, value }]));
const route = (createdIndex: number, value: JsonObject): { item: StoreItem; value: JsonObject } =>
  ({ item: { key: 'k', value: {}, createdIndex, modifiedIndex: createdIndex }, value });

const NODES = { nodes: { '127.0.0.1:1': 1 } };
const EMPTY = { upstreams: items({}), services: items({}), routes: items({}), ssls: items({}), metadata: items({}) };
const input = (over: Partial<AssembleInput>): AssembleInput => ({
  version: 1, ...EMPTY, streamPlugins: [], tls: { fallbackSni: '', trustedCa: undefined },
  ips: new Map(), slots: new Map(), keyring: new Keyring([]), ...over,
});
/** Slots as the builder allocates them: one per node of every upstream source, from 1. */
function slotsFor(inp: Pick<AssembleInput, 'upstreams' | 'services' | 'routes'>): Map<string, number> {
  const slots = new Map<string, number>();
  for (const [key, up] of upstreamSources(inp)) for (const n of upstreamNodes(key, up).nodes) slots.set(slotKey(key, n), slots.size + 1);
  return slots;
}

test('assembly: references resolved in APISIX\'s order; a missing one reported; unused upstreams kept; routes by creation', (t: TestContext) => {
  const refs = {
    upstreams: items({ u1: NODES, u2: NODES, spare: NODES }),
    services: items({ s1: { upstream_id: 'u2' }, s2: { upstream: NODES } }),
    // created out of id order: the snapshot lists them by createdIndex
    routes: new Map([
      ['late', route(9, { upstream_id: 'u1', service_id: 's1' })],
      ['early', route(2, { service_id: 's1' })],
      ['inline', route(3, { upstream: NODES, service_id: 's2' })],
      ['svc-inline', route(4, { service_id: 's2' })],
      ['dangling', route(5, { upstream_id: 'nope', remote_addr: '10.0.0.1', snis: ['A.Test.com'] })],
      ['split', route(6, { upstream_id: 'u1', plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: NODES, weight: 1 }, { upstream_id: 'u2', weight: 1 }] }] } } })],
    ]),
  };
  const slots = slotsFor(refs);
  const { snapshot: snap, problems } = assembleSnapshot(input({
    version: 7, ...refs, metadata: items({ syslog: { log_format: {} } }), streamPlugins: ['traffic-split'], slots,
  }));
  t.assert.equal(snap.version, 7);
  t.assert.deepStrictEqual(snap.routes.map((r) => [r.id, r.upstreamKey]), [
    ['early', 'upstreams/u2'], ['inline', 'stream_routes/inline'], ['svc-inline', 'services/s2'], ['dangling', undefined], ['split', 'upstreams/u1'], ['late', 'upstreams/u1'],
  ]);
  t.assert.deepStrictEqual(problems, [{ key: 'stream_routes/dangling', msg: 'stream_routes/dangling refers to upstream nope, which does not exist' }]);
  t.assert.deepStrictEqual(Object.keys(snap.upstreams).sort(), ['services/s2', 'stream_routes/inline', 'stream_routes/split#traffic-split/0/0', 'upstreams/spare', 'upstreams/u1', 'upstreams/u2'].sort());
  const split = snap.routes.find((r) => r.id === 'split');
  t.assert.deepStrictEqual(split?.pluginUpstreams, { '0/0': 'stream_routes/split#traffic-split/0/0', '0/1': 'upstreams/u2' });
  const dangling = snap.routes.find((r) => r.id === 'dangling');
  t.assert.deepStrictEqual([dangling?.remoteAddrs, dangling?.snis], [['10.0.0.1'], ['a.test.com']]);
  t.assert.deepStrictEqual(snap.pluginMetadata, { syslog: { log_format: {} } });
  t.assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.routes));
  // upstreamSources names every upstream the snapshot holds, under the same key: every node has its own slot
  const used = Object.values(snap.upstreams).flatMap((u) => u.nodes.map((n) => n.slot));
  t.assert.ok(used.length === 6 && used.every((s) => s > 0), `slots ${used.join(',')}`);
  t.assert.equal(new Set(used).size, used.length);
});

test('assembly: upstreams — nodes from both forms with the given DNS answers and slots, defaults, bad nodes reported', (t: TestContext) => {
  const upstreams = items({
    a: { type: 'chash', key: 'remote_addr', scheme: 'tls', nodes: [{ host: 'db.test', port: 5432, weight: 3, priority: 1 }, { host: '[::1]', port: 5433 }, { host: 'x.test' }], retries: 2, timeout: { connect: 2 } },
    b: { nodes: { 'gone.test:1': 1, '10.0.0.2:2': 5, 'noport.test': 1 } },
  });
  const slots = new Map([['upstreams/a|db.test|5432', 11], ['upstreams/a|::1|5433', 12], ['upstreams/b|gone.test|1', 13], ['upstreams/b|10.0.0.2|2', 14]]);
  const { snapshot, problems } = assembleSnapshot(input({ upstreams, slots, ips: new Map([['db.test', '192.0.2.7']]) }));
  const a = snapshot.upstreams['upstreams/a'];
  const b = snapshot.upstreams['upstreams/b'];
  t.assert.deepStrictEqual(a?.nodes, [
    { host: 'db.test', port: 5432, weight: 3, priority: 1, ip: '192.0.2.7', slot: 11 },
    { host: '::1', port: 5433, weight: 1, priority: 0, ip: '::1', slot: 12 },
  ]);
  t.assert.deepStrictEqual([a?.type, a?.hashKey, a?.scheme, a?.retries, a?.timeout, a?.timeoutSet], ['chash', 'remote_addr', 'tls', 2, { ...DEFAULT_TIMEOUT, connect: 2 }, true]);
  // a domain without an answer yet has no IP (the data plane skips it); the IP literal is its own
  t.assert.deepStrictEqual(b?.nodes.map((n) => [n.host, n.ip, n.slot]), [['gone.test', undefined, 13], ['10.0.0.2', '10.0.0.2', 14]]);
  t.assert.deepStrictEqual([b?.type, b?.scheme, b?.timeout, b?.timeoutSet], ['roundrobin', 'tcp', DEFAULT_TIMEOUT, false]);
  t.assert.deepStrictEqual(problems.map((p) => p.msg).sort(), ['upstream upstreams/a: node x.test has no port', 'upstream upstreams/b: node noport.test has no valid port']);
});

test('assembly: keys decrypted with the given keyring; a key no entry opens is a problem; client_cert_id takes a client SSL', (t: TestContext) => {
  const PEM = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
  const ring = new Keyring(['entry-one-0123456789']);
  const sealed = ring.encrypt(PEM);
  const foreign = new Keyring(['another-entry-0123456789']).encrypt(PEM);
  const ssls = items({
    srv: { cert: 'C', key: sealed, snis: ['a.test'] },
    lost: { cert: 'C', key: foreign, snis: ['b.test'] },
    cli: { type: 'client', cert: 'CLIENT-CERT', key: sealed },
  });
  const upstreams = items({
    byId: { nodes: NODES.nodes, tls: { client_cert_id: 'cli', verify: true } },
    inline: { nodes: NODES.nodes, tls: { client_cert: 'INLINE', client_key: sealed } },
    wrongId: { nodes: NODES.nodes, tls: { client_cert_id: 'srv' } },
  });
  const { snapshot, problems } = assembleSnapshot(input({ ssls, upstreams, keyring: ring }));
  t.assert.deepStrictEqual(snapshot.ssls.map((s) => [s.id, s.keys]), [['srv', [PEM]]]);
  t.assert.deepStrictEqual(snapshot.upstreams['upstreams/byId']?.tls, { clientCert: 'CLIENT-CERT', clientKey: PEM, verify: true });
  t.assert.deepStrictEqual(snapshot.upstreams['upstreams/inline']?.tls, { clientCert: 'INLINE', clientKey: PEM, verify: false });
  t.assert.deepStrictEqual(problems.map((p) => p.msg).sort(), [
    'ssls/lost: cannot decrypt a private key with any key of apisix.data_encryption.keyring',
    'ssls/lost: skipped: its certificates and keys do not pair up',
    'upstream upstreams/wrongId: client_cert_id srv is not an SSL of type client',
  ]);
  t.assert.ok(!JSON.stringify(snapshot).includes(sealed), 'no sealed key is left in the snapshot');
});

test('assembly: SSLs — client certificates left out, disabled ones too, a cert without its key reported and skipped', (t: TestContext) => {
  const { snapshot: snap, problems } = assembleSnapshot(input({
    ssls: items({
      ok: { cert: 'C', key: 'K', snis: ['A.test.com'], ssl_protocols: ['TLSv1.3', 'bogus'], client: { ca: 'CA', depth: 2 } },
      client: { type: 'client', cert: 'C', key: 'K' },
      off: { cert: 'C', key: 'K', sni: 'off.test', status: 0 },
      unpaired: { cert: 'C', certs: ['C2'], key: 'K' },
    }),
    tls: { fallbackSni: 'x', trustedCa: undefined },
  }));
  t.assert.deepStrictEqual(snap.ssls.map((s) => [s.id, s.snis, s.certs, s.keys, s.clientCa, s.clientDepth, s.protocols]), [
    ['ok', ['a.test.com'], ['C'], ['K'], 'CA', 2, ['TLSv1.3']],
  ]);
  t.assert.deepStrictEqual(problems.map((p) => p.msg), ['ssls/unpaired: skipped: its certificates and keys do not pair up']);
});

test('assembly: the memo changes nothing but identity — unchanged upstreams are the same objects, a new DNS answer or slot makes a new one', (t: TestContext) => {
  const upstreams = items({ d: { nodes: { 'db.test:1': 1 } }, s: NODES });
  const slots = slotsFor({ upstreams, services: items({}), routes: items({}) });
  const memo = new UpstreamMemo();
  const first = assembleSnapshot(input({ upstreams, slots, ips: new Map([['db.test', '192.0.2.1']]), memo })).snapshot;
  t.assert.deepStrictEqual(first, assembleSnapshot(input({ upstreams, slots, ips: new Map([['db.test', '192.0.2.1']]) })).snapshot, 'with or without the memo');
  const same = assembleSnapshot(input({ upstreams, slots, ips: new Map([['db.test', '192.0.2.1']]), memo })).snapshot;
  t.assert.strictEqual(same.upstreams['upstreams/d'], first.upstreams['upstreams/d']);
  const moved = assembleSnapshot(input({ upstreams, slots, ips: new Map([['db.test', '192.0.2.9']]), memo })).snapshot;
  t.assert.notStrictEqual(moved.upstreams['upstreams/d'], first.upstreams['upstreams/d']);
  t.assert.equal(moved.upstreams['upstreams/d']?.nodes[0]?.ip, '192.0.2.9');
  t.assert.strictEqual(moved.upstreams['upstreams/s'], first.upstreams['upstreams/s'], 'an upstream without domains is untouched');
  const reslotted = assembleSnapshot(input({ upstreams, slots: new Map([...slots].map(([k, v]) => [k, v + 100])), ips: new Map([['db.test', '192.0.2.9']]), memo })).snapshot;
  t.assert.equal(reslotted.upstreams['upstreams/s']?.nodes[0]?.slot, (slots.get('upstreams/s|127.0.0.1|1') ?? 0) + 100);
});
