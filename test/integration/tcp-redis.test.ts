// A real redis-server behind the gateway: redis-benchmark (50 pipelined clients) through the proxy completes with no
// error, and a 1 MiB value round-trips intact. Each test starts its own redis-server (fast) and gateway.
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { resp, respExchange, startRedis, type Redis } from '../fixtures/redis.ts';
import { run } from '../fixtures/servers.ts';

async function proxyTo(t: TestContext, redis: Redis): Promise<TestGateway> {
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [`${redis.host}:${redis.port}`]: 1 } } });
  if (r.status !== 201) throw new Error(`PUT route: ${r.status} ${r.text}`);
  return g;
}

async function commandsProcessed(redis: Redis): Promise<number> {
  const r = await run('redis-cli', ['-h', redis.host, '-p', String(redis.port), 'INFO', 'stats']);
  const m = /total_commands_processed:(\d+)/.exec(r.stdout);
  if (m === null) throw new Error(`INFO stats: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

test('redis: redis-benchmark -P 16 set,get,ping through the proxy', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(4);
  const redis = await startRedis(t);
  const g = await proxyTo(t, redis);
  const before = await commandsProcessed(redis);
  const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(g.listenerPort()), '-q', '-n', '20000', '-P', '16', '-t', 'set,get,ping'], 50_000);
  t.assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  // -q prints a progress line (\r) and then one result line per test
  const results = r.stdout.split(/[\r\n]+/).map((l) => l.trim()).filter((l) => /^[A-Z_]+: [\d.]+ requests per second/.test(l)).map((l) => l.split(':')[0]);
  t.assert.deepStrictEqual(results, ['PING_INLINE', 'PING_MBULK', 'SET', 'GET'], r.stdout);
  t.assert.doesNotMatch(r.stdout + r.stderr, /error|refused|reset/i);
  // the traffic really went to this redis: 4 tests × 20000 requests (plus the benchmark's own CONFIG calls)
  t.assert.ok((await commandsProcessed(redis)) - before >= 80_000);
});

test('redis: a 1 MiB value SET and GET through the proxy round-trips intact', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const redis = await startRedis(t);
  const g = await proxyTo(t, redis);
  const value = randomBytes(1024 * 1024);
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  // SET and GET pipelined on one proxied connection, then GET again on another one
  const [set, got] = await respExchange(g.listenerPort(), Buffer.concat([resp('SET', 'big', value), resp('GET', 'big')]), 2);
  t.assert.equal(set, 'OK');
  t.assert.ok(Buffer.isBuffer(got) && got.length === value.length && sha(got) === sha(value), 'GET on the same connection');
  const [again] = await respExchange(g.listenerPort(), resp('GET', 'big'), 1);
  t.assert.ok(Buffer.isBuffer(again) && sha(again) === sha(value), 'GET on a new connection');
  // and straight from the server, without the proxy
  const [direct] = await respExchange(redis.port, resp('STRLEN', 'big'), 1);
  t.assert.equal(direct, value.length);
});
