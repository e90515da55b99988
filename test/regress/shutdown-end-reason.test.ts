// Regression (issue 14): a session cut by a graceful stop (sluice.shutdown_timeout) was logged with whatever its
// closing sockets looked like (Done, ClientClosed, UpstreamReset) instead of Shutdown, on the TypeScript relay: the
// pipeline overwrote the reason the stop had set. Sessions that stream both ways when SIGTERM comes are cut after
// shutdown_timeout, each logged as Shutdown with its bytes, and the gateway exits 0; on both relays.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/dataplane/native/addon.ts';
import type { GatewayChild } from '../fixtures/child.ts';
import { childAdmin, routedChild, streamLoad } from '../fixtures/load.ts';
import { echoServer } from '../fixtures/servers.ts';
import { waitFor } from '../fixtures/upstream-helpers.ts';

const skip = !(process.env.SLUICE_EXPECT_NATIVE === '1' || existsSync(ADDON_PATH)) && `the addon is not built (${ADDON_PATH})`;
const nativeRelayed = async (c: GatewayChild): Promise<number> => ((await childAdmin(c, 'GET', '/sluice/v1/status')).json as { tcp: { native_relayed: number } }).tcp.native_relayed;

for (const mode of ['auto', 'off'] as const) {
  test(`graceful stop under traffic (native_relay: ${mode}): the flowing sessions are cut after shutdown_timeout, each logged as Shutdown with its bytes, exit 0`, { skip: mode === 'auto' && skip, timeout: 30_000 }, async (t: TestContext) => {
    const echo = await echoServer(t);
    // APISIX's default line with the end reason after it
    const format = '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time $sluice_end_reason';
    const { child, port, prefix } = await routedChild(t, echo.node, {
      timeoutS: 60, sluice: { shutdown_timeout: 1, native_relay: mode },
      extra: { nginx_config: { stream: { enable_access_log: true, access_log: 'logs/access.log', access_log_format: format } } },
    });
    const CONNS = 6;
    // Each connection streams 32 KiB every 5 ms both ways and never finishes on its own (its last chunks are held).
    const load = streamLoad({ port, connections: CONNS, chunkBytes: 32 * 1024, chunks: 4000, held: 10, tickMs: 5, deadlineMs: 25_000 });
    t.after(() => load.destroy());
    await load.established;
    const flowing = await waitFor(() => load.received().every((n) => n > 1024 * 1024), 10_000);
    t.assert.ok(flowing.ok, `bytes echoed per connection: ${load.received().join(', ')}`);
    t.assert.equal(await nativeRelayed(child), mode === 'auto' ? CONNS : 0);

    const t0 = performance.now();
    child.kill('SIGTERM');
    const exit = await child.exited;
    const ms = performance.now() - t0;
    t.assert.deepStrictEqual(exit, { code: 0, signal: null }, child.stderr());
    t.assert.ok(ms >= 900 && ms < 4000, `exited ${ms.toFixed(0)} ms after SIGTERM (shutdown_timeout 1)`);
    const report = await load.done;
    t.assert.equal(report.conns.filter((c) => c.timedOut).length, 0, 'every connection was closed by the gateway');

    // One line per session, in APISIX's default format: status 200 (Shutdown), bytes to and from the client. The
    // client got at most what the log says was sent to it, and sent at least what the log says was received.
    const lines = readFileSync(path.join(prefix, 'logs', 'access.log'), 'utf8').split('\n').filter((l) => l !== '');
    t.assert.equal(lines.length, CONNS, lines.join('\n'));
    const logged = lines.map((l) => {
      const m = /\] TCP (\d{3}) (\d+) (\d+) [\d.]+ (\w+)$/.exec(l);
      return { status: Number(m?.[1]), sent: Number(m?.[2]), received: Number(m?.[3]), reason: m?.[4] };
    });
    t.assert.deepStrictEqual(logged.map((l) => `${l.status} ${l.reason}`), Array<string>(CONNS).fill('200 Shutdown'), lines.join('\n'));
    const got = report.conns.map((c) => c.got).sort((a, b) => a - b);
    const sentToClients = logged.map((l) => l.sent).sort((a, b) => a - b);
    for (let i = 0; i < CONNS; i++) {
      t.assert.ok((sentToClients[i] ?? 0) > 1024 * 1024, `a logged session moved ${sentToClients[i]} bytes`);
      t.assert.ok((got[i] ?? 0) <= (sentToClients[i] ?? 0), `client got ${got[i]}, log says ${sentToClients[i]} sent`);
    }
    const totalSent = report.conns.reduce((a, c) => a + c.sent, 0);
    const totalReceived = logged.reduce((a, l) => a + l.received, 0);
    t.assert.ok(totalReceived <= totalSent && totalReceived > 0, `clients sent ${totalSent}, log says ${totalReceived} received`);
  });
}
