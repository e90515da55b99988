// The native relay at scale (issue 13), on a real gateway child with one worker: thousands of idle sessions held at
// once at a bounded cost each, every one of them closed by its idle timeout, and no fd left behind. (A graceful stop
// under traffic: test/regress/shutdown-end-reason.test.ts.)
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/dataplane/native/addon.ts';
import type { GatewayChild } from '../fixtures/child.ts';
import { childAdmin, routedChild } from '../fixtures/load.ts';
import { delay, echoServer, talk } from '../fixtures/servers.ts';
import { waitFor } from '../fixtures/upstream-helpers.ts';

const EXPECTED = process.env.SLUICE_EXPECT_NATIVE === '1' || existsSync(ADDON_PATH);
const skip = !EXPECTED && `the addon is not built (${ADDON_PATH})`;

interface Status { native_relay: string; tcp: { native_relayed: number; active: number } }
const status = async (c: GatewayChild): Promise<Status> => (await childAdmin(c, 'GET', '/sluice/v1/status')).json as Status;
const fdsOf = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

test('native relay: thousands of idle sessions held at once cost little each; the idle timeout closes every one, and the fds come back', { skip, timeout: 90_000 }, async (t: TestContext) => {
  // Each session holds 2 fds in the gateway and 2 here (client and echo end): stay under this process's fd limit.
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  const N = Math.min(9000, Math.floor((limit - 1000) / 2));
  const IDLE_S = 12;
  const echo = await echoServer(t);
  const { child, port } = await routedChild(t, echo.node, { timeoutS: IDLE_S, sluice: { native_relay: 'auto' } });
  t.assert.equal((await status(child)).native_relay, 'on');
  // one session first, so that what the gateway opens once (its first relay, pipes, log files) is in the baseline
  t.assert.equal((await talk(port, { send: 'warm' })).data.toString(), 'warm');
  t.assert.ok((await waitFor(async () => (await status(child)).tcp.active === 0, 5000)).ok);

  const fds0 = fdsOf(child.pid);
  const rss0 = rssKiB(child.pid);
  const socks: Socket[] = [];
  t.after(() => { for (const s of socks) s.destroy(); });
  const echoedAt = new Float64Array(N);
  const closedAt = new Float64Array(N);
  let opened = 0;
  const t0 = performance.now();
  const one = (i: number): Promise<void> => new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    socks[i] = s;
    s.on('error', () => { /* reported by the close times */ });
    s.once('data', (d: Buffer) => {
      if (d.toString() !== 'x') reject(new Error(`session ${i} got ${JSON.stringify(d.toString())}`));
      echoedAt[i] = performance.now();
      resolve();
    });
    s.once('close', () => { closedAt[i] = performance.now(); resolve(); });
    s.write('x');
  });
  await Promise.all(Array.from({ length: 100 }, async () => { while (opened < N) await one(opened++); }));
  const rampMs = performance.now() - t0;
  t.assert.ok(rampMs < (IDLE_S - 2) * 1000, `opening ${N} sessions took ${rampMs.toFixed(0)} ms, longer than the idle timeout allows`);
  t.assert.equal(echoedAt.filter((x) => x > 0).length, N, 'every session echoed its byte');

  const held = await status(child);
  t.assert.equal(held.tcp.active, N, 'all held at once');
  t.assert.ok(held.tcp.native_relayed >= N);
  // two fds per session in the gateway (give or take a few the gateway opens and closes on its own: Admin API
  // connections, log files)
  const fdsHeld = fdsOf(child.pid);
  t.assert.ok(fdsHeld >= fds0 + 2 * N - 16, `gateway fds: ${fds0} before, ${fdsHeld} with ${N} sessions`);
  await delay(500); // let the last accepts settle before sampling memory (the answer above already saw every session)
  const perSessionKiB = (rssKiB(child.pid) - rss0) / N;
  t.diagnostic(`${N} sessions opened in ${rampMs.toFixed(0)} ms; gateway RSS +${perSessionKiB.toFixed(2)} KiB per idle session`);
  t.assert.ok(perSessionKiB < 6, `gateway RSS grew ${perSessionKiB.toFixed(2)} KiB per idle session`);

  // Nothing is sent again: each session is closed by the gateway once it has been idle for IDLE_S.
  const allClosed = await waitFor(() => closedAt.every((x) => x > 0), (IDLE_S + 15) * 1000);
  t.assert.ok(allClosed.ok, `${closedAt.filter((x) => x === 0).length} sessions still open`);
  let early = 0;
  for (let i = 0; i < N; i++) if ((closedAt[i] ?? 0) - (echoedAt[i] ?? 0) < (IDLE_S - 0.5) * 1000) early++;
  t.assert.equal(early, 0, 'no session closed before its idle timeout');
  t.assert.ok((await waitFor(async () => (await status(child)).tcp.active === 0, 5000)).ok, 'every session ended');
  const back = await waitFor(() => fdsOf(child.pid) <= fds0, 5000);
  t.assert.ok(back.ok, `gateway fds: ${fds0} before, ${fdsOf(child.pid)} after`);
});
