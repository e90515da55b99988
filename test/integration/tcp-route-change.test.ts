// Route changes while traffic runs: established sessions keep their snapshot and their upstream socket (STYLE §3.3),
// so a PUT to another node, a DELETE and a quick re-PUT of the same id cut none of them — every byte is echoed back
// (length and sha256 checked) — while every new connection follows the config in force when it arrives.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { delay, echoServer, namedServer, talk, type TestServer } from '../fixtures/servers.ts';

const STREAMS = 4;
const CHUNK = 64 * 1024;
/** Chunks each stream still sends after the last config change. */
const AFTER = 10;

interface Stream {
  /** Resolves once the first chunk came back: the session is established through the first config. */
  readonly established: Promise<void>;
  /** Once the gateway closed: what was sent and what came back ("<bytes> <sha256>"), and whether the stream ran to
   * its end (false: the connection was cut before the client was done). */
  readonly result: Promise<{ sent: string; got: string; completed: boolean }>;
}

/** A client that echoes chunks through the gateway until `stop()` says so (then AFTER more chunks), then half-closes. */
function stream(port: number, stop: () => boolean): Stream {
  const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  sock.on('error', () => { /* a cut session shows up as missing bytes */ });
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let nSent = 0;
  let nGot = 0;
  const first = Promise.withResolvers<void>();
  sock.on('data', (d: Buffer) => { got.update(d); nGot += d.length; first.resolve(); });
  sock.on('end', () => sock.end());
  const closed = once(sock, 'close').catch(() => undefined);
  const result = (async () => {
    await once(sock, 'connect');
    let after = 0;
    while (after < AFTER && !sock.writableEnded && !sock.destroyed) {
      if (stop()) after++;
      const chunk = randomBytes(CHUNK);
      sent.update(chunk);
      nSent += chunk.length;
      if (!sock.write(chunk)) await Promise.race([once(sock, 'drain'), closed]);
      await delay(20);
    }
    const completed = after === AFTER && !sock.writableEnded && !sock.destroyed;
    sock.end();
    await closed;
    return { sent: `${nSent} ${sent.digest('hex')}`, got: `${nGot} ${got.digest('hex')}`, completed };
  })();
  return { established: first.promise, result };
}

async function put(g: TestGateway, up: TestServer): Promise<number> {
  return (await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [up.node]: 1 } } })).status;
}

test('route changes: established sessions survive PUT, DELETE and re-PUT; new connections follow', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4);
  const a = await echoServer(t);
  const b = await namedServer(t, 'B');
  const c = await namedServer(t, 'C');
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const port = g.listenerPort();
  const statuses: number[] = [await put(g, a)];

  let changed = false;
  const streams = Array.from({ length: STREAMS }, () => stream(port, () => changed));
  await Promise.all(streams.map((s) => s.established));

  const probe = async (): Promise<string> => {
    const r = await talk(port, { send: 'probe' });
    return r.closed ? r.data.toString() : '(open)';
  };
  const probes: string[] = [];
  statuses.push(await put(g, b));
  probes.push(await probe());
  statuses.push((await g.admin('DELETE', '/apisix/admin/stream_routes/1')).status);
  probes.push(await probe());
  statuses.push(await put(g, c));
  probes.push(await probe());
  // back to back, no connection in between: the last write wins for the next connection
  statuses.push((await g.admin('DELETE', '/apisix/admin/stream_routes/1')).status, await put(g, b), await put(g, c));
  probes.push(await probe());
  changed = true;

  const results = await Promise.all(streams.map((s) => s.result));
  t.assert.deepStrictEqual(statuses, [201, 200, 200, 201, 200, 201, 200]);
  t.assert.deepStrictEqual(probes, ['B', '', 'C', 'C']);
  // every session got back exactly what it sent, through the upstream of the config it started with
  t.assert.deepStrictEqual(results.map((r) => [r.completed, r.got]), results.map((r) => [true, r.sent]));
  t.assert.equal(a.connections(), STREAMS, 'only the long-lived sessions reached the first upstream');
});
