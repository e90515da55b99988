// `apisix.stream_proxy.udp` entry forms (issue 7, CONTRACT §2) from a real config.yaml: "ip:port" and "[v6]:port"
// bind those addresses, a bare int binds all interfaces (IPv4 and IPv6); each proxies, and a reply comes back from
// the address and port the client sent to. (The object form is a config error: test/integration/cli-test.test.ts.)
// Every worker's listener socket gets a big receive queue (LISTENER_RCVBUF, capped by net.core.rmem_max).
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { LISTENER_RCVBUF } from '../../src/dataplane/udp/proxy.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { put } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

/** A UDP port free on `host` (and, for the wildcard, on every address): bound to 0 and released. */
async function freePort(host: string): Promise<number> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.bind(0, host);
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}

const CASES: readonly {
  name: string;
  /** The entries, given free ports p[0], p[1]. */
  entries: (p: readonly number[]) => (string | number)[];
  /** Where clients send: bound listener (proto, host, port as configured) and the client's own address. */
  probes: (p: readonly number[]) => { host: string | null; port: number; client: string; to: string }[];
}[] = [
  {
    name: '"127.0.0.1:port" and "[::1]:port"',
    entries: (p) => [`127.0.0.1:${p[0]}`, `[::1]:${p[1]}`],
    probes: (p) => [
      { host: '127.0.0.1', port: p[0] ?? 0, client: '127.0.0.1', to: '127.0.0.1' },
      { host: '::1', port: p[1] ?? 0, client: '::1', to: '::1' },
    ],
  },
  {
    name: 'an int port: all interfaces, IPv4 and IPv6',
    entries: (p) => [p[0] ?? 0],
    probes: (p) => [
      { host: null, port: p[0] ?? 0, client: '127.0.0.1', to: '127.0.0.1' },
      { host: null, port: p[0] ?? 0, client: '::1', to: '::1' },
    ],
  },
];

for (const c of CASES) {
  test(`udp config: ${c.name} bind and proxy`, async (t: TestContext) => {
    const ports = [await freePort('::'), await freePort('::')];
    const probes = c.probes(ports);
    t.plan(probes.length * 2);
    const echo = await udpEcho(t);
    const g = await startTestGateway(t, { apisix: { stream_proxy: { udp: c.entries(ports) } } });
    await put(g, 'stream_routes/1', { upstream: { nodes: { [echo.node]: 1 } } });
    for (const p of probes) {
      // the entry became this listener (the gateway starts only once every listener is bound)
      t.assert.equal(g.gw.pool.ports()[`udp|${p.host ?? '*'}|${p.port}`], p.port);
      const client = await udpClient(t, p.client);
      const r = await client.ask(`via ${p.to}`, p.port, 2000, p.to);
      t.assert.deepStrictEqual(r && { data: r.data, from: `${r.fromAddr} ${r.fromPort}` }, { data: `via ${p.to}`, from: `${p.to} ${p.port}` });
    }
  });
}

test('udp config: every worker\'s listener socket has a receive queue of LISTENER_RCVBUF (capped by rmem_max)', async (t: TestContext) => {
  const ss = (args: string[]): string => spawnSync('ss', args, { encoding: 'utf8' }).stdout ?? '';
  if (spawnSync('ss', ['-V']).status !== 0) {
    t.skip('ss (iproute2) is not installed: the socket memory of another thread cannot be read otherwise');
    return;
  }
  t.plan(1);
  const g = await startTestGateway(t, { sluice: { workers: 2 } }, { listeners: [{ proto: 'udp' }] });
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  // Linux doubles SO_RCVBUF (for its bookkeeping) and caps the request at rmem_max first; ss shows the doubled size
  const want = 2 * Math.min(LISTENER_RCVBUF, rmemMax);
  const sizes = [...ss(['-u', '-a', '-n', '-m', `sport = :${g.listenerPort()}`]).matchAll(/\brb(\d+)/g)].map((m) => Number(m[1]));
  t.assert.deepStrictEqual(sizes, [want, want]);
});
