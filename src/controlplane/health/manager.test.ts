// Health manager (issue 5): one checker per upstream with `checks`, started when the upstream enters the snapshot
// (before any connection), replaced when its checks or nodes change (node state carried over by slot), stopped
// when it leaves (its nodes healthy again in the table); passive outcomes from the workers routed by slot, and only
// to upstreams that configure `checks.passive`.
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createNodeTableBuffers, NodeTable } from '../../lib/node-table.ts';
import { OUTCOME_CODE } from '../../model/messages.ts';
import type { SnapshotData, UpstreamConf } from '../../model/snapshot.ts';
import { HealthManager } from './manager.ts';

// Active probes go to port 9 of 127.0.0.1 with a long interval: at most one probe runs during a test, and the
// thresholds below keep it from deciding anything (tcp_failures 254).
const ACTIVE = { type: 'tcp', healthy: { interval: 3600 }, unhealthy: { interval: 3600, tcp_failures: 254 } };

function up(key: string, slots: readonly number[], checks: Record<string, unknown> | undefined): UpstreamConf {
  return {
    key, version: key, type: 'roundrobin', scheme: 'tcp', hashOn: 'vars', hashKey: undefined, retries: undefined,
    retryTimeout: undefined, timeout: { connect: 60, send: 600, read: 600 }, timeoutSet: false, tls: undefined, checks,
    nodes: slots.map((slot) => ({ host: '127.0.0.1', ip: '127.0.0.1', port: 9, weight: 1, priority: 0, slot })),
  };
}

function snap(ups: readonly UpstreamConf[], routes: readonly [string, string][] = []): SnapshotData {
  return {
    version: 1,
    ssls: [], streamPlugins: [], pluginMetadata: {},
    tls: { fallbackSni: '', trustedCa: undefined },
    upstreams: Object.fromEntries(ups.map((u) => [u.key, u])),
    routes: routes.map(([id, upstreamKey], i) => ({
      id, createdIndex: i, name: undefined, remoteAddrs: [], serverAddr: undefined, serverPort: undefined, snis: [],
      tlsPassthrough: false, plugins: {}, pluginUpstreams: {}, upstreamKey, serviceId: undefined,
    })),
  };
}

function setup(t: TestContext): { hm: HealthManager; table: NodeTable } {
  const table = new NodeTable(createNodeTableBuffers());
  const hm = new HealthManager(table, pino({ level: 'silent' }));
  t.after(() => hm.close());
  return { hm, table };
}

const FAILED = OUTCOME_CODE.failed;
const OK = OUTCOME_CODE.ok;

test('health manager: checkers exist for upstreams with checks only, as soon as they are in the snapshot', (t: TestContext) => {
  t.plan(3);
  const { hm } = setup(t);
  hm.sync(snap([up('upstreams/a', [1], { active: ACTIVE }), up('upstreams/b', [2], undefined)], [['r1', 'upstreams/a']]));
  t.assert.deepStrictEqual(hm.checkers().map((c) => c.name), ['/apisix/upstreams/a']);
  t.assert.equal(hm.routeUpstream('r1'), 'upstreams/a');
  t.assert.equal(hm.routeUpstream('nope'), undefined);
});

const PASSIVE: readonly { name: string; checks: Record<string, unknown>; pairs: number[]; healthy: boolean; status: string }[] = [
  { name: 'two failures (passive tcp_failures 2) mark the node', checks: { active: ACTIVE, passive: { unhealthy: { tcp_failures: 2 } } }, pairs: [1, FAILED, 1, FAILED], healthy: false, status: 'unhealthy' },
  { name: 'a success in between resets the count', checks: { active: ACTIVE, passive: { unhealthy: { tcp_failures: 2 } } }, pairs: [1, FAILED, 1, OK, 1, FAILED], healthy: true, status: 'mostly_healthy' },
  { name: 'outcomes for other slots do not count', checks: { active: ACTIVE, passive: { unhealthy: { tcp_failures: 2 } } }, pairs: [7, FAILED, 7, FAILED, 1, FAILED], healthy: true, status: 'mostly_healthy' },
  { name: 'without checks.passive, outcomes are ignored', checks: { active: ACTIVE }, pairs: [1, FAILED, 1, FAILED, 1, FAILED], healthy: true, status: 'healthy' },
];

for (const c of PASSIVE) {
  test(`health manager: passive: ${c.name}`, (t: TestContext) => {
    t.plan(2);
    const { hm, table } = setup(t);
    hm.sync(snap([up('upstreams/a', [1], c.checks)]));
    hm.onOutcomes(c.pairs);
    t.assert.equal(table.isHealthy(1), c.healthy);
    t.assert.equal(hm.checker('upstreams/a')?.nodes[0]?.status, c.status);
  });
}

test('health manager: a node keeps its state when its upstream\'s nodes change; a removed upstream frees its nodes', (t: TestContext) => {
  t.plan(5);
  const { hm, table } = setup(t);
  const checks = { active: ACTIVE, passive: { unhealthy: { tcp_failures: 1 } } };
  hm.sync(snap([up('upstreams/a', [1, 2], checks)]));
  hm.onOutcomes([1, FAILED]);
  const first = hm.checker('upstreams/a');
  hm.sync(snap([up('upstreams/a', [1, 2, 3], checks)]));
  const second = hm.checker('upstreams/a');
  t.assert.notEqual(second, first, 'a new checker for the new node list');
  t.assert.deepStrictEqual(second?.nodes.map((h) => h.status), ['unhealthy', 'healthy', 'healthy']);
  t.assert.equal(table.isHealthy(1), false);
  hm.sync(snap([]));
  t.assert.equal(hm.checkers().length, 0);
  t.assert.equal(table.isHealthy(1), true);
});
