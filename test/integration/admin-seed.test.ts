// The seed's curl commands (shared/seeds/000_*.txt, APISIX's "Stream Proxy" page) work unchanged (CONTRACT §3):
// each -d body is sent byte for byte, leading newline included, with curl's form content type, and the stored
// value is the body plus what APISIX adds: the URL id, timestamps and the upstream defaults.
import { suite, test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP_DEFAULTS, ids, item, listOf, type Clock } from '../fixtures/admin-helpers.ts';

/** What `curl -d '...'` sends: the text between the quotes, and no JSON content type. */
const CURL_HEADERS = { 'Content-Type': 'application/x-www-form-urlencoded' };

const cases = [
  {
    name: 'remote_addr 192.168.5.3 → 192.168.4.10:1995',
    body: `
{
"remote_addr": "192.168.5.3",
"upstream": {
"nodes": {
"192.168.4.10:1995": 1
},
"type": "roundrobin"
}
}`,
    value: { remote_addr: '192.168.5.3', upstream: { nodes: { '192.168.4.10:1995': 1 }, ...UP_DEFAULTS } },
  },
  {
    name: 'server_addr 127.0.0.1 + server_port 2000 → 127.0.0.1:1995',
    body: `
{
"server_addr": "127.0.0.1",
"server_port": 2000,
"upstream": {
"nodes": {
"127.0.0.1:1995": 1
},
"type": "roundrobin"
}
}`,
    value: { server_addr: '127.0.0.1', server_port: 2000, upstream: { nodes: { '127.0.0.1:1995': 1 }, ...UP_DEFAULTS } },
  },
  {
    name: 'server_addr 127.0.0.10 + server_port 9101 → 127.0.0.1:3306 (MySQL)',
    body: `
{
"server_addr": "127.0.0.10",
"server_port": 9101,
"upstream": {
"nodes": {
"127.0.0.1:3306": 1
},
"type": "roundrobin"
}
}`,
    value: { server_addr: '127.0.0.10', server_port: 9101, upstream: { nodes: { '127.0.0.1:3306': 1 }, ...UP_DEFAULTS } },
  },
  {
    name: 'no filter → 127.0.0.1:1995 (TLS over TCP listener)',
    body: `
{
"upstream": {
"nodes": {
"127.0.0.1:1995": 1
},
"type": "roundrobin"
}
}`,
    value: { upstream: { nodes: { '127.0.0.1:1995': 1 }, ...UP_DEFAULTS } },
  },
  {
    name: 'sni a.test.com → 127.0.0.1:5991',
    body: `
{
"sni": "a.test.com",
"upstream": {
"nodes": {
"127.0.0.1:5991": 1
},
"type": "roundrobin"
}
}`,
    value: { sni: 'a.test.com', upstream: { nodes: { '127.0.0.1:5991': 1 }, ...UP_DEFAULTS } },
  },
  {
    name: 'scheme tls upstream → 127.0.0.1:1995',
    body: `
{
"upstream": {
"scheme": "tls",
"nodes": {
"127.0.0.1:1995": 1
},
"type": "roundrobin"
}
}`,
    value: { upstream: { nodes: { '127.0.0.1:1995': 1 }, ...UP_DEFAULTS, scheme: 'tls' } },
  },
  {
    // The same body as APISIX's docs print it (4-space indents); only whitespace differs from the first case.
    name: 'remote_addr, indented as in APISIX docs',
    body: `
{
    "remote_addr": "192.168.5.3",
    "upstream": {
        "nodes": {
            "192.168.4.10:1995": 1
        },
        "type": "roundrobin"
    }
}`,
    value: { remote_addr: '192.168.5.3', upstream: { nodes: { '192.168.4.10:1995': 1 }, ...UP_DEFAULTS } },
  },
];

suite('seed stream routes', { concurrency: true }, () => {
  for (const c of cases) {
    test(`seed PUT /apisix/admin/stream_routes/1: ${c.name}`, async (t: TestContext) => {
      t.plan(5);
      const clock: Clock = { now: 1_764_000_000 };
      const g = await startTestGateway(t, {}, { now: () => clock.now });
      const want = { ...c.value, id: '1', create_time: clock.now, update_time: clock.now };
      const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', c.body, CURL_HEADERS);
      t.assert.strictEqual(put.status, 201, put.text);
      t.assert.deepStrictEqual(put.json, { key: '/apisix/stream_routes/1', value: want });
      const got = await g.admin('GET', '/apisix/admin/stream_routes/1');
      t.assert.deepStrictEqual(item(got).value, want);
      // Running the same curl again replaces the route: 200, same create_time.
      clock.now += 5;
      const again = await g.admin('PUT', '/apisix/admin/stream_routes/1', c.body, CURL_HEADERS);
      t.assert.strictEqual(again.status, 200, again.text);
      t.assert.deepStrictEqual(item(again).value, { ...want, update_time: clock.now });
    });
  }
});

test('the three seed routes side by side under ids 1, 2, 3 list in key order with total 3', async (t: TestContext) => {
  t.plan(4);
  const g = await startTestGateway(t);
  for (const [i, c] of cases.slice(0, 3).entries()) {
    const r = await g.admin('PUT', `/apisix/admin/stream_routes/${i + 1}`, c.body, CURL_HEADERS);
    t.assert.strictEqual(r.status, 201, r.text);
  }
  const list = await g.admin('GET', '/apisix/admin/stream_routes');
  t.assert.deepStrictEqual(
    { total: listOf(list).total, ids: ids(list) },
    { total: 3, ids: ['1', '2', '3'] },
  );
});
