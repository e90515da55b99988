// Health checker state machine (issue 5), as lua-resty-healthcheck counts: thresholds per kind, mostly_* states in
// between, counters kept on a move (APISIX shows `unhealthy` with `tcp_failure: 2`), a threshold of 0 turns that
// counter off, a change of usability written to the shared node table and logged with its reason; and active
// probes against real servers: tcp, and http whose statuses go 500 → 403 (in neither list: counts for nothing) → 200.
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { createNodeTableBuffers, NodeTable } from '../../lib/node-table.ts';
import type { UpstreamConf } from '../../model/snapshot.ts';
import type { Logger } from '../../observe/log.ts';
import { parseChecks, UpstreamChecker, type HealthStatus } from './checker.ts';
import type { ProbeResult } from './probes.ts';

function upstreamConf(checks: Record<string, unknown>, ports: readonly number[] = [1]): UpstreamConf {
  return {
    key: 'upstreams/1', version: '1', type: 'roundrobin', scheme: 'tcp', hashOn: 'vars', hashKey: undefined, retries: undefined,
    retryTimeout: undefined, timeout: { connect: 60, send: 600, read: 600 }, timeoutSet: false, tls: undefined, checks,
    nodes: ports.map((port, i) => ({ host: '127.0.0.1', ip: '127.0.0.1', port, weight: 1, priority: 0, slot: 100 + i })),
  };
}

/** A pino logger whose lines land in `lines`. */
function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

const R: Record<string, ProbeResult> = {
  ok: { kind: 'success' },
  tcp: { kind: 'tcp_failure', why: 'tcp connect failed: ECONNREFUSED' },
  tmo: { kind: 'timeout', why: 'tcp connect timed out after 1000 ms' },
  http: { kind: 'http_failure', why: 'http status 500', status: 500 },
};

interface Case {
  readonly name: string;
  readonly checks?: Record<string, unknown>;
  readonly source?: 'active' | 'passive';
  readonly results: string;
  readonly status: HealthStatus;
  /** success, tcp_failure, timeout_failure, http_failure */
  readonly counter: readonly [number, number, number, number];
  /** Lines logged for usability changes, in order. */
  readonly logs: readonly string[];
}

const DEFAULT = { active: { type: 'tcp' } };
const CASES: readonly Case[] = [
  { name: 'one tcp failure: mostly_healthy', results: 'tcp', status: 'mostly_healthy', counter: [0, 1, 0, 0], logs: [] },
  { name: 'two tcp failures (default threshold 2): unhealthy, counter kept', results: 'tcp tcp', status: 'unhealthy', counter: [0, 2, 0, 0], logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  { name: 'failures of different kinds count apart', results: 'tcp tmo tmo http', status: 'mostly_healthy', counter: [0, 1, 2, 1], logs: [] },
  { name: 'three timeouts (default 3): unhealthy', results: 'tmo tmo tmo', status: 'unhealthy', counter: [0, 0, 3, 0], logs: ['unhealthy: 3 active timeouts, last: tcp connect timed out after 1000 ms'] },
  { name: 'five http failures (default 5): unhealthy', results: 'http http http http http', status: 'unhealthy', counter: [0, 0, 0, 5], logs: ['unhealthy: 5 active http failures, last: http status 500'] },
  { name: 'a success on a healthy node counts for nothing', results: 'ok ok', status: 'healthy', counter: [0, 0, 0, 0], logs: [] },
  { name: 'mostly_healthy needs `successes` successes to be healthy again', results: 'tcp ok', status: 'mostly_healthy', counter: [1, 0, 0, 0], logs: [] },
  { name: 'mostly_healthy back to healthy after 2 successes', results: 'tcp ok ok', status: 'healthy', counter: [2, 0, 0, 0], logs: [] },
  { name: 'a success between failures resets them', results: 'tcp ok tcp', status: 'mostly_healthy', counter: [0, 1, 0, 0], logs: [] },
  { name: 'a failure on an unhealthy node counts for nothing', results: 'tcp tcp tcp tcp', status: 'unhealthy', counter: [0, 2, 0, 0], logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  { name: 'one success on an unhealthy node: mostly_unhealthy (still not used)', results: 'tcp tcp ok', status: 'mostly_unhealthy', counter: [1, 0, 0, 0], logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  {
    name: 'two successes (default 2): healthy again', results: 'tcp tcp ok ok', status: 'healthy', counter: [2, 0, 0, 0],
    logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED', 'healthy: 2 active successes'],
  },
  { name: 'a failure between successes resets them', results: 'tcp tcp ok tcp ok', status: 'mostly_unhealthy', counter: [1, 0, 0, 0], logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  { name: 'mostly_unhealthy back to unhealthy after the threshold, no new log', results: 'tcp tcp ok tcp tcp', status: 'unhealthy', counter: [0, 2, 0, 0], logs: ['unhealthy: 2 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  { name: 'thresholds from the checks', checks: { active: { type: 'tcp', unhealthy: { tcp_failures: 1 }, healthy: { successes: 3 } } }, results: 'tcp ok ok', status: 'mostly_unhealthy', counter: [2, 0, 0, 0], logs: ['unhealthy: 1 active tcp failures, last: tcp connect failed: ECONNREFUSED'] },
  {
    name: 'passive thresholds for passive results', checks: { active: { type: 'tcp' }, passive: { unhealthy: { tcp_failures: 3 } } }, source: 'passive',
    results: 'tcp tcp tcp', status: 'unhealthy', counter: [0, 3, 0, 0], logs: ['unhealthy: 3 passive tcp failures, last: tcp connect failed: ECONNREFUSED'],
  },
  {
    name: 'passive successes (default 5) bring a node back', checks: { active: { type: 'tcp' }, passive: {} }, source: 'passive',
    results: 'tcp tcp ok ok ok ok ok', status: 'healthy', counter: [5, 0, 0, 0],
    logs: ['unhealthy: 2 passive tcp failures, last: tcp connect failed: ECONNREFUSED', 'healthy: 5 passive successes'],
  },
  { name: 'passive defaults: 7 timeouts', checks: { active: { type: 'tcp' }, passive: {} }, source: 'passive', results: 'tmo tmo tmo tmo tmo tmo', status: 'mostly_healthy', counter: [0, 0, 6, 0], logs: [] },
  { name: 'a threshold of 0 turns the counter off', checks: { active: { type: 'tcp' }, passive: { unhealthy: { tcp_failures: 0 } } }, source: 'passive', results: 'tcp tcp tcp tcp', status: 'healthy', counter: [0, 0, 0, 0], logs: [] },
];

for (const c of CASES) {
  test(`health state: ${c.name}`, (t: TestContext) => {
    t.plan(4);
    const table = new NodeTable(createNodeTableBuffers());
    const { log, lines } = capture();
    const checker = new UpstreamChecker(upstreamConf(c.checks ?? DEFAULT), table, log);
    const h = checker.nodes[0];
    if (h === undefined) throw new Error('no node');
    const source = c.source ?? 'active';
    const thresholds = source === 'active' ? checker.spec.active : checker.spec.passive;
    if (thresholds === undefined) throw new Error('no passive thresholds');
    for (const r of c.results.split(' ')) checker.record(h, R[r] as ProbeResult, thresholds, source);
    t.assert.equal(h.status, c.status);
    t.assert.deepStrictEqual([h.success, h.tcpFailure, h.timeoutFailure, h.httpFailure], c.counter);
    t.assert.equal(table.isHealthy(h.node.slot), c.status === 'healthy' || c.status === 'mostly_healthy');
    t.assert.deepStrictEqual(
      lines.map((l) => `${String(l.msg).replace('upstream node is now ', '')}: ${String(l.reason)}`),
      c.logs,
    );
  });
}

test('health: checks defaults are APISIX\'s', (t: TestContext) => {
  t.plan(5);
  const s = parseChecks({ active: {}, passive: {} });
  t.assert.equal(s.type, 'http');
  t.assert.deepStrictEqual([s.timeoutMs, s.healthyIntervalMs, s.unhealthyIntervalMs, s.http.path], [1000, 1000, 1000, '/']);
  t.assert.deepStrictEqual(s.active, { successes: 2, tcpFailures: 2, timeouts: 3, httpFailures: 5 });
  t.assert.deepStrictEqual(s.passive, { successes: 5, tcpFailures: 2, timeouts: 7, httpFailures: 5 });
  t.assert.deepStrictEqual([s.http.healthy, s.http.unhealthy], [[200, 302], [429, 404, 500, 501, 502, 503, 504, 505]]);
});

/** Polls `cond` every 10 ms for up to `ms`. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

test('health probe: tcp against a closed port marks the node unhealthy, a listener there brings it back', async (t: TestContext) => {
  t.plan(3);
  const srv = createServer((s) => s.destroy());
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  srv.close();
  await once(srv, 'close');
  const table = new NodeTable(createNodeTableBuffers());
  // intervals below the schema's 1 s minimum: the unit test talks to the checker directly
  const checker = new UpstreamChecker(upstreamConf({ active: { type: 'tcp', healthy: { interval: 0.03 }, unhealthy: { interval: 0.03 } } }, [port]), table, pino({ level: 'silent' }));
  t.after(() => checker.stop());
  const h = checker.nodes[0];
  if (h === undefined) throw new Error('no node');
  checker.start();
  t.assert.ok(await until(() => h.status === 'unhealthy', 2000), `status ${h.status}`);
  srv.listen(port, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  t.assert.ok(await until(() => h.status === 'healthy', 2000), `status ${h.status}`);
  t.assert.ok(table.isHealthy(h.node.slot));
});

test('health probe: http 500 → unhealthy; 403 (in neither list) keeps it so; 200 → healthy; path, host and headers sent', async (t: TestContext) => {
  t.plan(6);
  let status = 500;
  let seen: { url: string | undefined; headers: IncomingHttpHeaders } | undefined;
  const srv = createHttpServer((req, res) => {
    seen = { url: req.url, headers: req.headers };
    res.writeHead(status).end();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => { srv.close(); srv.closeAllConnections(); });
  const port = (srv.address() as AddressInfo).port;
  const table = new NodeTable(createNodeTableBuffers());
  const checker = new UpstreamChecker(upstreamConf({
    active: {
      type: 'http', http_path: '/status?full=1', host: 'probe.example', req_headers: ['X-Probe: sluice'],
      healthy: { interval: 0.03, successes: 2 }, unhealthy: { interval: 0.03, http_failures: 2 },
    },
  }, [port]), table, pino({ level: 'silent' }));
  t.after(() => checker.stop());
  const h = checker.nodes[0];
  if (h === undefined) throw new Error('no node');
  checker.start();
  t.assert.ok(await until(() => h.status === 'unhealthy', 2000), `status ${h.status}`);
  t.assert.deepStrictEqual(
    [seen?.url, seen?.headers.host, seen?.headers['x-probe']],
    ['/status?full=1', 'probe.example', 'sluice'],
  );
  status = 403;
  await new Promise((r) => setTimeout(r, 300)); // ~10 probes answered 403
  t.assert.equal(h.status, 'unhealthy');
  t.assert.equal(h.success, 0);
  status = 200;
  t.assert.ok(await until(() => h.status === 'healthy', 2000), `status ${h.status}`);
  t.assert.ok(table.isHealthy(h.node.slot));
});
