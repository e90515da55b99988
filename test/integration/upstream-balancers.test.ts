// Balancers over real connections (issue 5). Every upstream answers with its own `host:port`, so each reply names the
// node the gateway picked. Nodes are named a, b, c… in the order of the table's weights.
// - roundrobin: smooth weighted sequences, map and array node forms, weight 0 never picked;
// - chash: one node per key (remote_addr from distinct loopback source addresses), keys spread, remote_port and
//   vars_combinations keys, an unresolvable key behaving as remote_addr;
// - least_conn: 3:1 sends sequential connections to the weight-3 node; with connections held open it balances by
//   (open + 1) / weight, with one worker or two (the counts are gateway-wide).
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { ask, askMany, deadPort, hold, put, tally, upstreams, waitFor, type Upstream } from '../fixtures/upstream-helpers.ts';

const LETTERS = 'abcdefgh';

/** Reply (`host:port`) → node letter; '-' for a connection closed without a byte. */
function namer(servers: readonly Upstream[]): (reply: string) => string {
  return (reply) => {
    const i = servers.findIndex((s) => s.node === reply);
    return i < 0 ? (reply === '' ? '-' : `?${reply}`) : (LETTERS[i] as string);
  };
}

function nodesOf(form: 'map' | 'array', servers: readonly Upstream[], weights: readonly number[]): unknown {
  if (form === 'map') return Object.fromEntries(servers.map((s, i) => [s.node, weights[i]]));
  return servers.map((s, i) => ({ host: s.host, port: s.port, weight: weights[i] }));
}

// ---- roundrobin -------------------------------------------------------------------------------------------------

const RR: readonly { name: string; form: 'map' | 'array'; weights: readonly number[]; want: string }[] = [
  { name: 'weights 3:1, map nodes', form: 'map', weights: [3, 1], want: 'a a b a a a b a' },
  { name: 'weights 3:1, array nodes', form: 'array', weights: [3, 1], want: 'a a b a a a b a' },
  { name: 'weights 5:1:1 interleave', form: 'array', weights: [5, 1, 1], want: 'a a b a c a a a a b a c a a' },
  { name: 'weight 0 is never picked, map nodes', form: 'map', weights: [2, 0, 1], want: 'a c a a c a' },
  { name: 'weight 0 is never picked, array nodes', form: 'array', weights: [0, 1, 1], want: 'b c b c b c' },
];

for (const c of RR) {
  test(`upstream roundrobin: ${c.name}`, async (t: TestContext) => {
    t.plan(2);
    const servers = await upstreams(t, c.weights.length);
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: nodesOf(c.form, servers, c.weights) } });
    const want = c.want.split(' ');
    const seq = (await askMany(g.listenerPort(), want.length)).map(namer(servers));
    t.assert.equal(seq.join(' '), c.want);
    // what the servers saw agrees with what the clients got
    t.assert.deepStrictEqual(servers.map((s) => s.accepted()), c.weights.map((_, i) => want.filter((x) => x === LETTERS[i]).length));
  });
}

// ---- chash ------------------------------------------------------------------------------------------------------

async function chashGateway(t: TestContext, n: number, hashOn: string, key: string): Promise<{ g: TestGateway; name: (r: string) => string; servers: Upstream[] }> {
  const servers = await upstreams(t, n);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await put(g, 'stream_routes/1', { upstream: { type: 'chash', hash_on: hashOn, key, nodes: nodesOf('map', servers, servers.map(() => 1)) } });
  return { g, name: namer(servers), servers };
}

const SOURCES = Array.from({ length: 24 }, (_, i) => `127.0.0.${i + 2}`);

test('upstream chash: key remote_addr: each client address always gets its node; addresses spread', async (t: TestContext) => {
  t.plan(3);
  const { g, name } = await chashGateway(t, 4, 'vars', 'remote_addr');
  const per: string[][] = [];
  for (const src of SOURCES) per.push((await askMany(g.listenerPort(), 3, { localAddress: src })).map(name));
  t.assert.deepStrictEqual(per.filter((p) => new Set(p).size !== 1 || p[0]?.length !== 1), [], 'a client moved between nodes');
  const share = tally(per.map((p) => p[0] as string));
  t.assert.ok(Object.keys(share).length >= 3 && Object.values(share).every((n) => n <= 16), `24 addresses spread as ${JSON.stringify(share)}`);
  // a reconnect from each address later still lands where it did
  const again = [];
  for (const src of SOURCES) again.push(name((await ask(g.listenerPort(), { localAddress: src })).data));
  t.assert.deepStrictEqual(again, per.map((p) => p[0]));
});

const SPREAD: readonly { name: string; hashOn: string; key: string }[] = [
  { name: 'key remote_port: one client address, many source ports, several nodes', hashOn: 'vars', key: 'remote_port' },
  { name: 'vars_combinations $remote_addr$remote_port: several nodes', hashOn: 'vars_combinations', key: '$remote_addr$remote_port' },
];

for (const c of SPREAD) {
  test(`upstream chash: ${c.name}`, async (t: TestContext) => {
    t.plan(2);
    const { g, name } = await chashGateway(t, 4, c.hashOn, c.key);
    const seq = (await askMany(g.listenerPort(), 24)).map(name);
    t.assert.ok(seq.every((x) => x.length === 1), seq.join(' '));
    t.assert.ok(new Set(seq).size >= 2, `24 connections all went to ${seq[0] ?? '-'}`);
  });
}

const FALLBACK: readonly { name: string; hashOn: string; key: string }[] = [
  { name: 'mqtt_client_id without the mqtt-proxy plugin', hashOn: 'vars', key: 'mqtt_client_id' },
  { name: 'server_name without TLS', hashOn: 'vars', key: 'server_name' },
  { name: 'an HTTP variable (query_string) in a stream session', hashOn: 'vars', key: 'query_string' },
  { name: 'vars_combinations where nothing resolves', hashOn: 'vars_combinations', key: 'id-$no_such_var' },
];

for (const c of FALLBACK) {
  test(`upstream chash: an unresolvable key falls back to remote_addr: ${c.name}`, async (t: TestContext) => {
    t.plan(1);
    const { g, name, servers } = await chashGateway(t, 4, c.hashOn, c.key);
    const sources = SOURCES.slice(0, 12);
    const got: string[] = [];
    for (const src of sources) got.push(name((await ask(g.listenerPort(), { localAddress: src })).data));
    // the same nodes with key remote_addr: the same ring, so the same answer for each address
    await put(g, 'stream_routes/1', { upstream: { type: 'chash', key: 'remote_addr', nodes: nodesOf('map', servers, servers.map(() => 1)) } });
    const want: string[] = [];
    for (const src of sources) want.push(name((await ask(g.listenerPort(), { localAddress: src })).data));
    t.assert.deepStrictEqual(got, want);
  });
}

test('upstream chash: a refused node\'s clients go where they would if it were not configured; the others stay', async (t: TestContext) => {
  t.plan(3);
  const servers = await upstreams(t, 3);
  const dead = await deadPort();
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const name = namer(servers);
  const ring = (withDead: boolean): Record<string, number> => ({ ...nodesOf('map', servers, [1, 1, 1]) as Record<string, number>, ...(withDead ? { [`127.0.0.1:${dead}`]: 1 } : {}) });
  const run = async (withDead: boolean, retries?: number): Promise<string[]> => {
    await put(g, 'stream_routes/1', { upstream: { type: 'chash', key: 'remote_addr', nodes: ring(withDead), ...(retries !== undefined ? { retries } : {}) } });
    const out: string[] = [];
    for (const src of SOURCES) out.push(name((await ask(g.listenerPort(), { localAddress: src })).data));
    return out;
  };
  const withDead = await run(true);
  const without = await run(false);
  // without retries, the dead node's clients are closed: some of the 24 addresses do hash to it
  const noRetry = await run(true, 0);
  // every client got an answer (the keys on the dead node's points walked on to the next node), and exactly the
  // one it gets from the ring without the dead node (removing a node moves only its own keys)
  t.assert.ok(withDead.every((x) => x.length === 1), withDead.join(' '));
  t.assert.deepStrictEqual(withDead, without);
  t.assert.ok(noRetry.includes('-'), noRetry.join(' '));
});

// ---- least_conn -------------------------------------------------------------------------------------------------

test('upstream least_conn: 3:1, sequential connections all go to the weight-3 node', async (t: TestContext) => {
  t.plan(2);
  const servers = await upstreams(t, 2);
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  await put(g, 'stream_routes/1', { upstream: { type: 'least_conn', nodes: nodesOf('map', servers, [3, 1]) } });
  const seq = (await askMany(g.listenerPort(), 8)).map(namer(servers));
  t.assert.equal(seq.join(' '), 'a a a a a a a a');
  t.assert.deepStrictEqual(servers.map((s) => s.accepted()), [8, 0]);
});

for (const workers of [1, 2]) {
  test(`upstream least_conn: 3:1 with connections held open balances by (open + 1) / weight (${workers} worker${workers > 1 ? 's' : ''})`, async (t: TestContext) => {
    t.plan(3);
    const servers = await upstreams(t, 2, { hold: true });
    const g = await startTestGateway(t, { sluice: { workers } }, { listeners: [{}] });
    await put(g, 'stream_routes/1', { upstream: { type: 'least_conn', nodes: nodesOf('map', servers, [3, 1]) } });
    const name = namer(servers);
    const held = [];
    const seq: string[] = [];
    for (let i = 0; i < 8; i++) {
      const h = hold(t, g.listenerPort());
      held.push(h);
      seq.push(name(await h.reply));
    }
    // a: (0+1)/3 < b: 1/1, … a with 3 open: 4/3 > b: 1 → b; then a again until 6 open
    t.assert.equal(seq.join(' '), 'a a a b a a a b');
    t.assert.deepStrictEqual(servers.map((s) => s.open()), [6, 2]);
    // two of b's sessions end: b has 0 open, (0+1)/1 = 1 < a: 7/3 → the next two go to b
    held.filter((_, i) => seq[i] === 'b').forEach((h) => h.close());
    await waitFor(() => servers[1]?.open() === 0, 2000);
    const next: string[] = [];
    for (let i = 0; i < 2; i++) next.push(name(await hold(t, g.listenerPort()).reply));
    t.assert.equal(next.join(' '), 'b b');
  });
}
