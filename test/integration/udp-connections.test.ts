// The connections API on UDP sessions (issue 15, CONTRACT §7): a client's session is listed (protocol udp, state
// relaying, its route, node and byte counts as of the answer), `protocol=` filters, and a DELETE ends it at once
// (killed, 403 in the access log); the client's next datagram opens a new session. Runs on the native UDP path and, in
// test:js-relay, on the TypeScript one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startTestGateway, type TestGateway } from '../fixtures/gateway.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpEcho } from '../fixtures/udp.ts';

interface Conn { id: string; protocol: string; remote_port: number; route_id: string | null; node: string | null; state: string; bytes_from_client: number; bytes_to_client: number }

async function list(g: TestGateway, query = ''): Promise<{ total: number; list: Conn[] }> {
  const r = await g.admin('GET', `/sluice/v1/connections${query}`);
  if (r.status !== 200) throw new Error(`GET connections: ${r.status} ${r.text}`);
  return r.json as { total: number; list: Conn[] };
}

test('connections (udp): listed with its counts, filtered by protocol, ended by id (killed, 403); the next datagram opens a new session', async (t: TestContext) => {
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, {
    nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access_stream.log', access_log_format: '$protocol $remote_port $status $sluice_end_reason' } },
  }, { listeners: [{ proto: 'udp' }] });
  await put(g, 'stream_routes/u', { upstream: { nodes: { [echo.node]: 1 } } });
  const c = await udpClient(t);
  t.assert.ok((await c.ask('ping', g.listenerPort())) !== undefined, 'the echo answered');
  const one = await list(g, '?protocol=udp');
  t.assert.equal(one.total, 1);
  const s = one.list[0] as Conn;
  // the echo's reply is `<node>|<source it saw>|<payload>`: its size is known only from the reply, so compare loosely
  t.assert.deepStrictEqual([s.protocol, s.state, s.route_id, s.node, s.remote_port, s.bytes_from_client], ['udp', 'relaying', 'u', echo.node, c.port, 4]);
  t.assert.ok(s.bytes_to_client > 4, JSON.stringify(s));
  t.assert.equal((await list(g, '?protocol=tcp')).total, 0);
  const del = await g.admin('DELETE', `/sluice/v1/connections/${s.id}`);
  t.assert.deepStrictEqual([del.status, del.json], [200, { deleted: s.id }]);
  t.assert.equal((await list(g)).total, 0, 'gone from the list at once');
  const file = path.join(g.prefix, 'logs', 'access_stream.log');
  let lines: string[] = [];
  const logged = await waitFor(() => {
    try { lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== ''); } catch { lines = []; }
    return lines.length >= 1;
  }, 3000);
  t.assert.ok(logged.ok);
  t.assert.deepStrictEqual(lines, [`UDP ${c.port} 403 killed`]);
  t.assert.ok((await c.ask('again', g.listenerPort())) !== undefined);
  const next = await list(g);
  t.assert.equal(next.total, 1);
  t.assert.notEqual(next.list[0]?.id, s.id, 'a new session');
});
