// The snapshot's assembly alone (issue 14): items in, snapshot out, problems as values. The context turns an upstream
// object into a minimal UpstreamConf and decrypts nothing (keys are stored in the clear here).
import { test, type TestContext } from 'node:test';
import type { UpstreamConf } from '../model/snapshot.ts';
import { assembleSnapshot, type AssembleContext, type Items } from './snapshot-assemble.ts';
import type { JsonObject, StoreItem } from './store/store.ts';

const items = (entries: Record<string, JsonObject>, base = 1): Items =>
  new Map(Object.entries(entries).map(([id, value], i) => [id, { item: { key: `/apisix/x/${id}`, value, createdIndex: base + i, modifiedIndex: base + i }, value }]));

function ctx(): AssembleContext & { problems: string[]; built: string[] } {
  const problems: string[] = [];
  const built: string[] = [];
  return {
    problems, built,
    upstream: (key, up) => { built.push(key); return { key, nodes: [], src: up } as unknown as UpstreamConf; },
    decrypt: (_from, v) => (typeof v === 'string' ? v : undefined),
    problem: (_key, msg) => { problems.push(msg); },
  };
}

const NODES = { nodes: { '127.0.0.1:1': 1 } };

test('assembly: references resolved in APISIX\'s order; a missing one reported; unused upstreams kept; routes by creation', (t: TestContext) => {
  const c = ctx();
  const snap = assembleSnapshot({
    version: 7,
    upstreams: items({ u1: NODES, u2: NODES, spare: NODES }),
    services: items({ s1: { upstream_id: 'u2' }, s2: { upstream: NODES } }),
    // created out of id order: the snapshot lists them by createdIndex
    routes: new Map<string, { item: StoreItem; value: JsonObject }>([
      ['late', { item: { key: 'k', value: {}, createdIndex: 9, modifiedIndex: 9 }, value: { upstream_id: 'u1', service_id: 's1' } }],
      ['early', { item: { key: 'k', value: {}, createdIndex: 2, modifiedIndex: 2 }, value: { service_id: 's1' } }],
      ['inline', { item: { key: 'k', value: {}, createdIndex: 3, modifiedIndex: 3 }, value: { upstream: NODES, service_id: 's2' } }],
      ['svc-inline', { item: { key: 'k', value: {}, createdIndex: 4, modifiedIndex: 4 }, value: { service_id: 's2' } }],
      ['dangling', { item: { key: 'k', value: {}, createdIndex: 5, modifiedIndex: 5 }, value: { upstream_id: 'nope', remote_addr: '10.0.0.1', snis: ['A.Test.com'] } }],
      ['split', { item: { key: 'k', value: {}, createdIndex: 6, modifiedIndex: 6 }, value: { upstream_id: 'u1', plugins: { 'traffic-split': { rules: [{ weighted_upstreams: [{ upstream: NODES, weight: 1 }, { upstream_id: 'u2', weight: 1 }] }] } } } }],
    ]),
    ssls: items({}), metadata: items({ syslog: { log_format: {} } }),
    streamPlugins: ['traffic-split'], tls: { fallbackSni: '', trustedCa: undefined },
  }, c);
  t.assert.equal(snap.version, 7);
  t.assert.deepStrictEqual(snap.routes.map((r) => [r.id, r.upstreamKey]), [
    ['early', 'upstreams/u2'], ['inline', 'stream_routes/inline'], ['svc-inline', 'services/s2'], ['dangling', undefined], ['split', 'upstreams/u1'], ['late', 'upstreams/u1'],
  ]);
  t.assert.deepStrictEqual(c.problems, ['stream_routes/dangling refers to upstream nope, which does not exist']);
  t.assert.deepStrictEqual(Object.keys(snap.upstreams).sort(), ['services/s2', 'stream_routes/inline', 'stream_routes/split#traffic-split/0/0', 'upstreams/spare', 'upstreams/u1', 'upstreams/u2'].sort());
  const split = snap.routes.find((r) => r.id === 'split');
  t.assert.deepStrictEqual(split?.pluginUpstreams, { '0/0': 'stream_routes/split#traffic-split/0/0', '0/1': 'upstreams/u2' });
  const dangling = snap.routes.find((r) => r.id === 'dangling');
  t.assert.deepStrictEqual([dangling?.remoteAddrs, dangling?.snis], [['10.0.0.1'], ['a.test.com']]);
  t.assert.deepStrictEqual(snap.pluginMetadata, { syslog: { log_format: {} } });
  t.assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.routes));
});

test('assembly: SSLs — client certificates left out, disabled ones too, a cert without its key reported and skipped', (t: TestContext) => {
  const c = ctx();
  const snap = assembleSnapshot({
    version: 1, upstreams: items({}), services: items({}), routes: items({}), metadata: items({}),
    ssls: items({
      ok: { cert: 'C', key: 'K', snis: ['A.test.com'], ssl_protocols: ['TLSv1.3', 'bogus'], client: { ca: 'CA', depth: 2 } },
      client: { type: 'client', cert: 'C', key: 'K' },
      off: { cert: 'C', key: 'K', sni: 'off.test', status: 0 },
      unpaired: { cert: 'C', certs: ['C2'], key: 'K' },
    }),
    streamPlugins: [], tls: { fallbackSni: 'x', trustedCa: undefined },
  }, c);
  t.assert.deepStrictEqual(snap.ssls.map((s) => [s.id, s.snis, s.certs, s.keys, s.clientCa, s.clientDepth, s.protocols]), [
    ['ok', ['a.test.com'], ['C'], ['K'], 'CA', 2, ['TLSv1.3']],
  ]);
  t.assert.deepStrictEqual(c.problems, ['ssls/unpaired: skipped: its certificates and keys do not pair up']);
});
