// The router's decisions (CONTRACT §4) as a table: SNI routes first (exact > `*.x` at any depth > `*`), then the
// routes without SNI; among matching routes (1) more filters set, (2) longer remote prefix, (3) longer server_addr
// prefix, (4) earlier creation. Plus the explain() answer for the same query.
import fc from 'fast-check';
import { test, type TestContext } from 'node:test';
import { parseIp } from '../../lib/ip.ts';
import type { RouteConf } from '../../model/snapshot.ts';
import { Router, type MatchQuery, type SniMode } from './router.ts';

interface R {
  id: string;
  /** Default: the route's position in the table. */
  created?: number;
  remote?: string[];
  server?: string;
  port?: number;
  snis?: string[];
  passthrough?: boolean;
}

function conf(r: R, i: number): RouteConf {
  return {
    id: r.id, createdIndex: r.created ?? i + 1, name: undefined, remoteAddrs: r.remote ?? [], serverAddr: r.server,
    serverPort: r.port, snis: r.snis ?? [], tlsPassthrough: r.passthrough ?? false, plugins: {}, pluginUpstreams: {}, upstreamKey: `stream_routes/${r.id}`,
    serviceId: undefined,
  };
}

interface Q { remote?: string; server?: string; port?: number; sni?: string; mode?: SniMode }

function query(q: Q): MatchQuery {
  return {
    remote: parseIp(q.remote ?? '127.0.0.1'), server: parseIp(q.server ?? '127.0.0.1'), serverPort: q.port ?? 9100,
    sni: q.sni, sniMode: q.mode ?? (q.sni !== undefined ? 'tls' : 'none'),
  };
}

const CASES: readonly { name: string; routes: R[]; q: Q; want: string | null }[] = [
  // rule 1: more of server_port, server_addr, remote_addr(s) set
  { name: 'two filters beat one', routes: [{ id: 'a', port: 9100 }, { id: 'b', port: 9100, remote: ['127.0.0.1'] }], q: {}, want: 'b' },
  { name: 'three filters beat two', routes: [{ id: 'a', port: 9100, remote: ['127.0.0.0/8'] }, { id: 'b', port: 9100, remote: ['0.0.0.0/0'], server: '0.0.0.0/0' }], q: {}, want: 'b' },
  { name: 'any filter beats none', routes: [{ id: 'any' }, { id: 'p', port: 9100 }], q: {}, want: 'p' },
  { name: 'a non-matching specific route does not win', routes: [{ id: 'any' }, { id: 'p', port: 9101, remote: ['127.0.0.1'] }], q: {}, want: 'any' },
  { name: 'a route on another port is not a candidate', routes: [{ id: 'p1', port: 9101 }, { id: 'p0', port: 9100 }], q: { port: 9101 }, want: 'p1' },
  // rule 2: longer matching remote prefix
  { name: '/32 beats /24 beats /8', routes: [{ id: '8', remote: ['127.0.0.0/8'] }, { id: '32', remote: ['127.0.0.5'] }, { id: '24', remote: ['127.0.0.0/24'] }], q: { remote: '127.0.0.5' }, want: '32' },
  { name: 'the longest matching entry of a list counts', routes: [{ id: 'list', remote: ['10.0.0.0/8', '127.0.0.0/16'] }, { id: '8', remote: ['127.0.0.0/8'] }], q: { remote: '127.0.9.9' }, want: 'list' },
  { name: 'a longer entry that does not match does not count', routes: [{ id: 'list', remote: ['127.0.0.0/9', '127.1.0.0/16'] }, { id: '12', remote: ['127.0.0.0/12'] }], q: { remote: '127.0.9.9' }, want: '12' },
  { name: 'remote prefix is compared before server prefix', routes: [{ id: 'srv', server: '127.0.0.1' }, { id: 'rem', remote: ['127.0.0.0/8'] }], q: {}, want: 'rem' },
  // rule 3: longer server_addr prefix
  { name: 'server_addr /32 beats /8', routes: [{ id: '8', server: '127.0.0.0/8' }, { id: '32', server: '127.0.0.10' }], q: { server: '127.0.0.10' }, want: '32' },
  { name: 'server_addr beats server_port (same count)', routes: [{ id: 'port', port: 9100 }, { id: 'addr', server: '127.0.0.1' }], q: {}, want: 'addr' },
  // rule 4: earlier creation
  { name: 'a tie goes to the earlier creation, not the table order', routes: [{ id: 'late', remote: ['127.0.0.0/8'], created: 9 }, { id: 'early', remote: ['127.0.0.0/8'], created: 3 }], q: {}, want: 'early' },
  { name: 'a tie between catch-alls', routes: [{ id: 'x', created: 5 }, { id: 'y', created: 2 }, { id: 'z', created: 7 }], q: {}, want: 'y' },
  { name: 'a tie between a server_port route and an older any-port route', routes: [{ id: 'port', port: 9100, created: 2 }, { id: 'any', server: '0.0.0.0/0', created: 1 }], q: {}, want: 'any' },
  { name: 'a tie between a server_port route and a newer any-port route', routes: [{ id: 'port', port: 9100, created: 1 }, { id: 'any', server: '0.0.0.0/0', created: 2 }], q: {}, want: 'port' },
  // address families
  { name: 'v6 client, v6 prefixes', routes: [{ id: '32', remote: ['2001:db8::/32'] }, { id: '64', remote: ['2001:db8::/64'] }], q: { remote: '2001:db8::1' }, want: '64' },
  { name: 'v4 client is not in ::/0', routes: [{ id: 'v6', remote: ['::/0'] }], q: { remote: '10.0.0.1' }, want: null },
  { name: 'v6 client is not in 0.0.0.0/0', routes: [{ id: 'v4', remote: ['0.0.0.0/0'] }], q: { remote: '::1' }, want: null },
  { name: 'v4-mapped client is IPv4', routes: [{ id: 'v6', remote: ['::/0'] }, { id: 'v4', remote: ['10.0.0.0/8'] }], q: { remote: '::ffff:10.1.1.1' }, want: 'v4' },
  { name: 'v4 client in a v4-mapped CIDR', routes: [{ id: 'm', remote: ['::ffff:a00:0/104'] }], q: { remote: '10.200.0.1' }, want: 'm' },
  { name: 'v4-mapped CIDR prefix counts as its v4 length', routes: [{ id: 'm120', remote: ['::ffff:a00:0/120'] }, { id: 'v16', remote: ['10.0.0.0/16'] }], q: { remote: '10.0.0.7' }, want: 'm120' },
  { name: 'v4-mapped server address', routes: [{ id: 's', server: '127.0.0.1' }], q: { server: '::ffff:127.0.0.1' }, want: 's' },
  { name: 'no routes', routes: [], q: {}, want: null },
  // SNI
  { name: 'exact SNI beats a wildcard and *', routes: [{ id: 'star', snis: ['*'] }, { id: 'wild', snis: ['*.test.com'] }, { id: 'exact', snis: ['a.test.com'] }], q: { sni: 'a.test.com' }, want: 'exact' },
  { name: 'a wildcard matches at any depth', routes: [{ id: 'star', snis: ['*'] }, { id: 'wild', snis: ['*.test.com'] }], q: { sni: 'x.y.test.com' }, want: 'wild' },
  { name: 'the longer wildcard suffix wins', routes: [{ id: 'short', snis: ['*.test.com'] }, { id: 'long', snis: ['*.y.test.com'] }], q: { sni: 'x.y.test.com' }, want: 'long' },
  { name: '*.test.com does not match test.com', routes: [{ id: 'wild', snis: ['*.test.com'] }, { id: 'plain' }], q: { sni: 'test.com' }, want: 'plain' },
  { name: 'SNI is case-insensitive', routes: [{ id: 'exact', snis: ['a.test.com'] }], q: { sni: 'A.Test.COM' }, want: 'exact' },
  { name: 'any SNI route beats a more specific plain route', routes: [{ id: 'plain', port: 9100, remote: ['127.0.0.1'], server: '127.0.0.1' }, { id: 'star', snis: ['*'] }], q: { sni: 'a.test.com' }, want: 'star' },
  { name: 'an SNI route whose filters fail falls through to the next SNI group', routes: [{ id: 'exact', snis: ['a.test.com'], port: 9999 }, { id: 'wild', snis: ['*.test.com'] }], q: { sni: 'a.test.com' }, want: 'wild' },
  { name: 'no SNI route matches: plain routes', routes: [{ id: 'exact', snis: ['b.test.com'] }, { id: 'plain' }], q: { sni: 'a.test.com' }, want: 'plain' },
  { name: 'a connection without SNI never takes an SNI route', routes: [{ id: 'star', snis: ['*'] }], q: {}, want: null },
  { name: 'within an SNI group the precedence rules apply', routes: [{ id: 'any', snis: ['a.test.com'] }, { id: 'port', snis: ['a.test.com'], port: 9100 }], q: { sni: 'a.test.com' }, want: 'port' },
  { name: 'tls_passthrough routes only for a peeked ClientHello', routes: [{ id: 'pt', snis: ['a.test.com'], passthrough: true }, { id: 'tls', snis: ['*'] }], q: { sni: 'a.test.com', mode: 'tls' }, want: 'tls' },
  { name: 'a peeked ClientHello takes the passthrough route', routes: [{ id: 'tls', snis: ['a.test.com'] }, { id: 'pt', snis: ['*.test.com'], passthrough: true }], q: { sni: 'a.test.com', mode: 'peek' }, want: 'pt' },
];

for (const c of CASES) {
  test(`router: ${c.name}`, (t: TestContext) => {
    t.plan(2);
    const router = new Router(c.routes.map(conf));
    t.assert.equal(router.match(query(c.q))?.id ?? null, c.want);
    // explain() gives the same decision, and marks exactly the winner as selected
    const ex = router.explain(query(c.q));
    t.assert.deepStrictEqual([ex.route_id, ex.candidates.filter((x) => x.why === 'matched: selected').map((x) => x.route_id)], [c.want, c.want === null ? [] : [c.want]]);
  });
}

test('router: explain says why each route did not match', (t: TestContext) => {
  t.plan(2);
  const router = new Router([
    { id: 'port', port: 9101 }, { id: 'server', server: '10.0.0.1' }, { id: 'remote', remote: ['10.0.0.0/8'] }, { id: 'sni', snis: ['a.test.com'] },
    { id: 'loser', remote: ['127.0.0.0/8'] }, { id: 'winner', remote: ['127.0.0.1'] },
  ].map(conf));
  const ex = router.explain(query({}));
  t.assert.equal(ex.route_id, 'winner');
  t.assert.deepStrictEqual(Object.fromEntries(ex.candidates.map((x) => [x.route_id, x.why])), {
    port: 'server_port 9100 != 9101',
    server: 'server_addr does not match 10.0.0.1',
    remote: 'remote_addr not in [10.0.0.0/8]',
    sni: 'route needs an SNI and the connection has none',
    loser: 'matched: a more specific or older route won',
    winner: 'matched: selected',
  });
});

// explain() and match() walk the same index: on random route tables and queries they name the same winner, which is
// also the one a plain reading of CONTRACT §4 picks (the oracle below, written from the rules, not from router.ts).
const REMOTES = ['127.0.0.1', '127.0.0.0/8', '127.0.0.0/24', '10.0.0.0/8', '0.0.0.0/0'];
const SERVERS = ['127.0.0.1', '127.0.0.0/8', '10.0.0.1'];
const SNIS = ['a.test.com', '*.test.com', '*.y.test.com', '*', 'b.test.com'];

function inCidr(ip: string, cidr: string): number {
  const [net, bits] = cidr.includes('/') ? [cidr.slice(0, cidr.indexOf('/')), Number(cidr.slice(cidr.indexOf('/') + 1))] : [cidr, 32];
  const n = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  const same = Math.floor(n(ip) / 2 ** (32 - bits)) === Math.floor(n(net) / 2 ** (32 - bits)) || mask === 0;
  return same ? bits : -1;
}

function oracle(routes: readonly R[], q: Required<Pick<Q, 'remote' | 'server' | 'port'>> & Q): string | null {
  const scored = (list: readonly R[]): string | null => {
    let best: { r: R; spec: number; rp: number; sp: number; created: number } | undefined;
    routes.forEach((r, i) => {
      if (!list.includes(r)) return;
      if (r.port !== undefined && r.port !== q.port) return;
      const rp = r.remote === undefined ? 0 : Math.max(-1, ...r.remote.map((c) => inCidr(q.remote, c)));
      const sp = r.server === undefined ? 0 : inCidr(q.server, r.server);
      if (rp < 0 || sp < 0) return;
      const s = { r, spec: (r.port !== undefined ? 1 : 0) + (r.server !== undefined ? 1 : 0) + (r.remote !== undefined ? 1 : 0), rp, sp, created: r.created ?? i + 1 };
      if (best === undefined || s.spec > best.spec || (s.spec === best.spec && (s.rp > best.rp || (s.rp === best.rp && (s.sp > best.sp || (s.sp === best.sp && s.created < best.created)))))) best = s;
    });
    return best?.r.id ?? null;
  };
  const mode = q.mode ?? (q.sni !== undefined ? 'tls' : 'none');
  if (q.sni !== undefined && mode !== 'none') {
    const name = q.sni.toLowerCase();
    const tiers: string[] = [name];
    for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) tiers.push(`*${name.slice(i)}`);
    tiers.push('*');
    for (const tier of tiers) {
      const w = scored(routes.filter((r) => (r.snis ?? []).includes(tier) && (r.passthrough ?? false) === (mode === 'peek')));
      if (w !== null) return w;
    }
  }
  return scored(routes.filter((r) => (r.snis ?? []).length === 0));
}

test('router: on random tables, explain() names the winner match() picks, and both agree with the rules (oracle)', (t: TestContext) => {
  const route = fc.record({
    remote: fc.option(fc.uniqueArray(fc.constantFrom(...REMOTES), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    server: fc.option(fc.constantFrom(...SERVERS), { nil: undefined }),
    port: fc.option(fc.constantFrom(9100, 9101), { nil: undefined }),
    snis: fc.option(fc.uniqueArray(fc.constantFrom(...SNIS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    passthrough: fc.boolean(),
  }, { requiredKeys: ['passthrough'] });
  const table = fc.array(route, { maxLength: 8 }).chain((rs) => fc.shuffledSubarray(rs.map((_, i) => i + 1), { minLength: rs.length, maxLength: rs.length })
    .map((order) => rs.map((r, i): R => ({ ...r, id: `r${i}`, created: order[i] ?? i + 1 }))));
  const q = fc.record({
    remote: fc.constantFrom('127.0.0.1', '10.1.2.3', '192.168.0.1'), server: fc.constantFrom('127.0.0.1', '10.0.0.1'),
    port: fc.constantFrom(9100, 9101), sni: fc.option(fc.constantFrom('a.test.com', 'x.y.test.com', 'b.test.com', 'other.org', 'A.Test.com'), { nil: undefined }),
    mode: fc.constantFrom<SniMode>('tls', 'peek', 'none'),
  });
  let decided = 0;
  fc.assert(fc.property(table, q, (routes, qq) => {
    const query2 = qq.sni === undefined ? { ...qq, mode: 'none' as const } : qq;
    const router = new Router(routes.map(conf));
    const m = router.match(query(query2))?.id ?? null;
    const ex = router.explain(query(query2));
    const selected = ex.candidates.filter((c) => c.why === 'matched: selected').map((c) => c.route_id);
    if (m !== null) decided++;
    return ex.route_id === m && JSON.stringify(selected) === JSON.stringify(m === null ? [] : [m]) && m === oracle(routes, query2)
      && ex.candidates.length === routes.length && ex.candidates.every((c) => c.matched === c.why.startsWith('matched'));
  }), { numRuns: 3000, seed: 13 });
  t.assert.ok(decided > 500, `the tables had winners often enough (${decided} of 3000)`);
});
