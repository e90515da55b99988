// Domain nodes (issue 5): resolved by the control plane (system resolver here: no apisix.dns_resolver), so the
// data plane dials IPs. `localhost:<port>` reaches a server on 127.0.0.1; a domain that does not resolve is never
// dialled: alone, the connection is closed with no byte (NoHealthyNode); next to a live node, the live node answers.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { askMany, endReasons, put, upstream } from '../fixtures/upstream-helpers.ts';

const CASES: readonly { name: string; nodes: (port: number) => unknown; want: 'live' | 'none'; reasons: (n: number) => Record<string, number> }[] = [
  { name: 'localhost:<port>, map form', nodes: (p) => ({ [`localhost:${p}`]: 1 }), want: 'live', reasons: (n) => ({ Done: n }) },
  { name: 'localhost, array form, any case', nodes: (p) => [{ host: 'LocalHost', port: p, weight: 1 }], want: 'live', reasons: (n) => ({ Done: n }) },
  { name: 'an unresolvable domain alone: closed with no byte', nodes: () => ({ 'does-not-exist.invalid:80': 1 }), want: 'none', reasons: (n) => ({ NoHealthyNode: n }) },
  {
    name: 'an unresolvable domain next to a live node: never dialled, the live node answers',
    nodes: (p) => [{ host: 'does-not-exist.invalid', port: 80, weight: 5, priority: 1 }, { host: '127.0.0.1', port: p, weight: 1 }],
    want: 'live', reasons: (n) => ({ Done: n }),
  },
];

for (const c of CASES) {
  test(`upstream domain nodes: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const live = await upstream(t);
    const g = await startTestGateway(t, {}, { listeners: [{}] });
    await put(g, 'stream_routes/1', { upstream: { type: 'roundrobin', nodes: c.nodes(live.port), retries: 0 } });
    const replies = await askMany(g.listenerPort(), 4);
    t.assert.deepStrictEqual(replies, Array<string>(4).fill(c.want === 'live' ? live.node : ''));
    t.assert.equal(live.accepted(), c.want === 'live' ? 4 : 0);
    t.assert.deepStrictEqual(await endReasons(g), c.reasons(4));
  });
}
