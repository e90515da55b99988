// Every listener form of apisix.stream_proxy.tcp binds and proxies (CONTRACT §2): "ip:port", "[v6]:port", a range
// "ip:a-b", a bare port (all interfaces, v4 and v6) and the object form. The ports are real (config.yaml needs
// 1-65535): ports that were free a moment ago, retried if one was taken in between. Each port has its own route
// (server_port) to a server named after the port, so a reply proves which listener took the connection.
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { freePort, freePortRange, namedServer, retryAddrInUse, talk } from '../fixtures/servers.ts';

interface Plan {
  readonly entries: readonly unknown[];
  /** [host to dial, port] for every address the entries must bind. */
  readonly dial: readonly (readonly [string, number])[];
}

async function plan(): Promise<Plan> {
  const range = await freePortRange(['127.0.0.1'], 3);
  const taken = new Set([range, range + 1, range + 2]);
  const pick = async (host: string): Promise<number> => {
    for (;;) {
      const p = await freePort(host);
      if (!taken.has(p)) { taken.add(p); return p; }
    }
  };
  const v4 = await pick('127.0.0.1');
  const v6 = await pick('::1');
  const bare = await freePortRange(['0.0.0.0', '::'], 1);
  taken.add(bare);
  const obj = await pick('127.0.0.1');
  return {
    entries: [`127.0.0.1:${v4}`, `[::1]:${v6}`, `127.0.0.1:${range}-${range + 2}`, bare, { addr: `127.0.0.1:${obj}` }],
    dial: [
      ['127.0.0.1', v4], ['::1', v6],
      ['127.0.0.1', range], ['127.0.0.1', range + 1], ['127.0.0.1', range + 2],
      ['127.0.0.1', bare], ['::1', bare],
      ['127.0.0.1', obj],
    ],
  };
}

test('listeners: ip:port, [v6]:port, a range, a bare port and the object form all accept and proxy', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(1);
  let p: Plan | undefined;
  const g: TestGateway = await retryAddrInUse(async () => {
    p = await plan();
    return startTestGateway(t, { apisix: { stream_proxy: { tcp: p.entries } } });
  });
  if (p === undefined) throw new Error('no plan');
  const ports = [...new Set(p.dial.map(([, port]) => port))];
  for (const port of ports) {
    const up = await namedServer(t, `port ${port}`);
    const r = await g.admin('PUT', `/apisix/admin/stream_routes/${port}`, { server_port: port, upstream: { type: 'roundrobin', nodes: { [up.node]: 1 } } });
    if (r.status !== 201) throw new Error(`PUT route: ${r.status} ${r.text}`);
  }
  const want = p.dial.map(([host, port]) => `${host} ${port}: port ${port}`);
  const got = await Promise.all(p.dial.map(async ([host, port]) => `${host} ${port}: ${(await talk(port, { host })).data.toString()}`));
  t.assert.deepStrictEqual(got, want);
});
