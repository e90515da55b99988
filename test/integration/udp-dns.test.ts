// A real DNS server behind the gateway (issue 7): dnsmasq (Debian) answers sluice.test with 10.9.8.7 on a spare
// loopback port, and `dig` asks it through the gateway's UDP listener. The direct query checks the fixture itself,
// so a failure through the gateway is the gateway's. 10.9.8.7 is only data in an A record: no traffic goes there.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { dig, startDnsmasq } from '../fixtures/dnsmasq.ts';
import { put } from '../fixtures/upstream-helpers.ts';
import { udpCounters } from '../fixtures/udp.ts';

const CASES: readonly { name: string; via: 'direct' | 'gateway'; route: boolean; name_: string; want: string; noRoute: number }[] = [
  { name: 'dig straight at dnsmasq (the fixture works)', via: 'direct', route: false, name_: 'sluice.test', want: '10.9.8.7', noRoute: 0 },
  { name: 'dig through a route to dnsmasq', via: 'gateway', route: true, name_: 'sluice.test', want: '10.9.8.7', noRoute: 0 },
  { name: 'a subdomain through the route', via: 'gateway', route: true, name_: 'www.sluice.test', want: '10.9.8.7', noRoute: 0 },
  { name: 'no route: dig gets no answer and the query is counted as dropped', via: 'gateway', route: false, name_: 'sluice.test', want: '', noRoute: 1 },
];

for (const c of CASES) {
  test(`udp dns: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const dns = await startDnsmasq(t, { 'sluice.test': '10.9.8.7' });
    const g = await startTestGateway(t, {}, { listeners: [{ proto: 'udp' }] });
    if (c.route) await put(g, 'stream_routes/dns', { upstream: { nodes: { [`127.0.0.1:${dns.port}`]: 1 } } });
    const port = c.via === 'direct' ? dns.port : g.listenerPort();
    const r = await dig(['@127.0.0.1', '-p', String(port), c.name_, 'A', '+short', '+tries=1', '+time=2']);
    // +short prints the answer's records; dig's own complaints (no reply) are `;;` comment lines
    const records = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
    t.assert.equal(records.join(' '), c.want);
    // dig exits 0 with an answer, 9 when no reply came
    t.assert.equal(r.status, c.want === '' ? 9 : 0);
    t.assert.equal((await udpCounters(g)).drops.no_route, c.noRoute);
  });
}
