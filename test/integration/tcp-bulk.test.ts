// 256 MiB through a real gateway child to an upstream that reads slowly: every byte arrives in order (sha256 on both
// ends), and backpressure keeps the gateway's memory bounded — its RSS (/proc/<pid>/status VmRSS, sampled during the
// transfer) stays under a cap. Without backpressure the gateway would buffer most of the 256 MiB.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestChild } from '../fixtures/child.ts';
import { adminRequest, makePrefix } from '../fixtures/gateway.ts';
import { freePort, slowReader } from '../fixtures/servers.ts';

const MiB = 1024 * 1024;
const TOTAL_MIB = 256;
/** The upstream reads at most this fast; the client could write several times faster. */
const READ_RATE = 64 * MiB;
/**
 * Cap on the gateway's RSS growth during the transfer. Measured on the dev box (Node 24, one worker thread): 136 MiB
 * idle; growth +41 MiB at 48 MiB/s, +62..64 MiB at 64 MiB/s and with an unthrottled reader (GC churn of read
 * buffers: the same for 512 MiB, so not buffering); with the relay's backpressure removed, +245 MiB. The cap sits
 * between the two, with margin both ways.
 */
const RSS_GROWTH_CAP_MIB = 128;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

test('bulk: 256 MiB to a slow reader arrive intact, and the gateway RSS stays bounded', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(4);
  const up = await slowReader(t, READ_RATE);
  // A child gateway (its own process, so that its RSS is its own) with one TCP listener on a port that was free.
  let child;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const prefix = makePrefix(t, { apisix: { stream_proxy: { tcp: [`127.0.0.1:${port}`] } }, sluice: { workers: 1 } });
    try {
      child = await startTestChild(t, prefix);
      break;
    } catch (e) {
      if (attempt >= 4 || !String(e).includes('EADDRINUSE')) throw e;
    }
  }
  const r = await adminRequest(child.adminUrl, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [up.node]: 1 } } });
  t.assert.equal(r.status, 201, r.text);

  const before = rssMiB(child.pid);
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(child.pid)); }, 25);
  t.after(() => clearInterval(sampler));

  const base = randomBytes(MiB);
  const sent = createHash('sha256');
  const sock = connect({ port, host: '127.0.0.1' });
  let reply = '';
  sock.setEncoding('utf8');
  sock.on('data', (s: string) => { reply += s; });
  const closed = once(sock, 'close');
  await once(sock, 'connect');
  const t0 = performance.now();
  for (let i = 0; i < TOTAL_MIB; i++) {
    // every block differs (its index up front), so a lost, repeated or reordered block changes the hash
    const block = Buffer.from(base);
    block.writeUInt32BE(i, 0);
    sent.update(block);
    if (!sock.write(block)) await once(sock, 'drain');
  }
  sock.end();
  await closed;
  clearInterval(sampler);
  const secs = (performance.now() - t0) / 1000;
  peak = Math.max(peak, rssMiB(child.pid));
  t.diagnostic(`${TOTAL_MIB} MiB in ${secs.toFixed(1)} s; gateway RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB`);

  t.assert.equal(reply, `${TOTAL_MIB * MiB} ${sent.digest('hex')}\n`);
  // the reader really was the bottleneck (else backpressure was not exercised)
  t.assert.ok(secs >= TOTAL_MIB * MiB / READ_RATE * 0.9, `took ${secs.toFixed(1)} s`);
  t.assert.ok(peak - before < RSS_GROWTH_CAP_MIB,
    `gateway RSS grew by ${(peak - before).toFixed(0)} MiB (${before.toFixed(0)} → ${peak.toFixed(0)}; cap +${RSS_GROWTH_CAP_MIB})`);
});
