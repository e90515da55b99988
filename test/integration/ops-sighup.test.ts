// SIGHUP (CONTRACT §1, issue 8) on a real gateway child with 2 workers: a listener added is bound and proxies, a
// listener removed refuses new connections while a session established on it goes on to its end, a new
// sluice.max_connections applies at once, and a file that fails validation is rejected whole — its
// `FILE:LINE: path: problem` line is the last one on stderr and the running config (listeners, max_connections) stays.
// A listener whose options change at the same address (plain → tls) is bound anew, its open sessions untouched.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { sslBody, testCerts, tlsAsk } from '../fixtures/certs.ts';
import { lastLine } from '../fixtures/child.ts';
import { makePrefix } from '../fixtures/gateway.ts';
import { childAdmin, openSession, opsYaml, sighup, startOpsChild, writeConfig } from '../fixtures/load.ts';
import { delay, echoServer, freePort, talk } from '../fixtures/servers.ts';

const loop = (port: number): string => `127.0.0.1:${port}`;

test('SIGHUP: listeners added and removed, max_connections live, an invalid file rejected whole', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(13);
  const echo = await echoServer(t);
  const prefix = makePrefix(t);
  const { child, ports } = await startOpsChild(t, prefix, 2, ([a, b]) => opsYaml({ tcp: [loop(a ?? 0), loop(b ?? 0)] }));
  const [a = 0, b = 0] = ports;
  const put = await childAdmin(child, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.strictEqual(put.status, 201, put.text);

  // Before: a session on B, and two more at once on A (no limit yet).
  const onB = await openSession(t, b);
  const h1 = await openSession(t, a);
  const h2 = await openSession(t, a);
  t.assert.deepStrictEqual([await onB.say('b-1'), await h1.say('h1'), await h2.say('h2')], ['b-1', 'h1', 'h2']);
  await Promise.all([h1.end(), h2.end()]);

  // B removed, C added, max_connections 2 (another port for C if its port was taken in between).
  let c = 0;
  let hup;
  for (let attempt = 0; attempt < 3; attempt++) {
    c = await freePort();
    writeConfig(prefix, opsYaml({ tcp: [loop(a), loop(c)], sluice: { max_connections: 2 } }));
    hup = await sighup(child);
    if (!hup.problems.some((p) => p.includes('EADDRINUSE'))) break;
  }
  t.assert.deepStrictEqual([hup?.outcome, hup?.problems], ['reloaded', []]);

  // C proxies (with the session on B, 2 sessions are open now: the limit).
  const onC = await openSession(t, c);
  t.assert.strictEqual(await onC.say('via C'), 'via C');
  // A third connection is accepted and closed at once with no bytes, and counted.
  const third = await talk(a, { send: 'over the limit', timeoutMs: 3000 });
  const status = (await childAdmin(child, 'GET', '/sluice/v1/status')).json as { tcp: { rejected_max_connections: number } };
  t.assert.deepStrictEqual([third.closed, third.data.toString(), status.tcp.rejected_max_connections], [true, '', 1], 'max_connections 2 applied live');
  // B refuses new connections, but the session established on it goes on, to its clean end.
  const newOnB = await talk(b, { send: 'x', timeoutMs: 2000 });
  t.assert.strictEqual(newOnB.error, 'ECONNREFUSED');
  t.assert.strictEqual(await onB.say('b-2 after the SIGHUP'), 'b-2 after the SIGHUP');
  t.assert.deepStrictEqual(await onB.end(), { clean: true, error: undefined });

  // An invalid file (B back, a port out of range, max_connections 100): rejected whole, with its line.
  const bad = opsYaml({ tcp: [loop(a), loop(b), 70000], sluice: { max_connections: 100 } });
  writeConfig(prefix, bad);
  const line = bad.split('\n').findIndex((l) => l.includes('70000')) + 1;
  const rejected = await sighup(child);
  // The plain line follows the log record; give it a moment to arrive.
  for (let i = 0; i < 100 && !lastLine(child.stderr()).startsWith('conf/'); i++) await delay(10);
  t.assert.deepStrictEqual(
    [rejected.outcome, lastLine(child.stderr())],
    ['rejected', `conf/config.yaml:${line}: apisix.stream_proxy.tcp[2]: invalid stream_proxy.tcp entry: port out of range (1-65535): 70000`],
  );
  t.assert.strictEqual(readFileSync(path.join(prefix, 'conf/config.yaml'), 'utf8'), bad, 'the file is the bad one');
  // The old config stays: A and C proxy, B still refuses, max_connections is still 2.
  const stillB = await talk(b, { send: 'x', timeoutMs: 2000 });
  t.assert.strictEqual(stillB.error, 'ECONNREFUSED');
  const onA = await openSession(t, a);
  t.assert.deepStrictEqual([await onA.say('A still'), await onC.say('C still')], ['A still', 'C still']);
  const third2 = await talk(a, { send: 'over the limit', timeoutMs: 3000 });
  t.assert.deepStrictEqual([third2.closed, third2.data.toString()], [true, ''], 'max_connections is still 2');
  await Promise.all([onA.end(), onC.end()]);
});

test('SIGHUP: a listener whose options change at the same address is bound anew (plain → tls); its open session goes on', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(5);
  const certs = testCerts();
  const echo = await echoServer(t);
  const prefix = makePrefix(t);
  const { child, ports } = await startOpsChild(t, prefix, 1, ([p]) => opsYaml({ tcp: [loop(p ?? 0)] }));
  const [a = 0] = ports;
  const puts = [
    await childAdmin(child, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } }),
    await childAdmin(child, 'PUT', '/apisix/admin/ssls/1', sslBody(certs.server.exact, 'test.com')),
  ];
  t.assert.deepStrictEqual(puts.map((r) => r.status), [201, 201]);
  const plain = await openSession(t, a);
  t.assert.strictEqual(await plain.say('plain'), 'plain');

  writeConfig(prefix, opsYaml({ tcp: [{ addr: loop(a), tls: true }] }));
  const hup = await sighup(child);
  t.assert.deepStrictEqual([hup.outcome, hup.problems], ['reloaded', []]);
  // New connections on the same port are TLS now (the certificate verified against the test CA), on every worker.
  const replies = [];
  for (let i = 0; i < 10; i++) replies.push(await tlsAsk(a, { servername: 'test.com', ca: certs.ca.cert, send: `tls-${i}`, end: true }));
  t.assert.deepStrictEqual(replies.map((r) => [r.authorized, r.data]), replies.map((_, i) => [true, `tls-${i}`]));
  // The plain session accepted before goes on.
  t.assert.strictEqual(await plain.say('still plain'), 'still plain');
});
