// An acknowledged Admin API write survives kill -9 (CONTRACT §3: the embedded store commits before it answers).
// A real gateway child takes sequential PUTs; a timer SIGKILLs it while the writes are still flowing, so one request
// is in flight. A new child on the same prefix must hold every acknowledged write with the value sent, and the
// write that was in flight either whole or not at all.
import { test, type TestContext } from 'node:test';
import { adminRequest, makePrefix } from '../fixtures/gateway.ts';
import { startTestChild } from '../fixtures/child.ts';

/** Acks to collect before the kill is armed; the contract for this test asks for at least 200. */
const KILL_AFTER = 250;
/** Upper bound on writes: the kill must land well before it. */
const MAX_WRITES = 2_000;

interface Up { type: string; nodes: Record<string, number>; desc: string; labels: Record<string, string> }

function body(i: number): Up {
  return {
    type: i % 2 === 0 ? 'roundrobin' : 'least_conn',
    nodes: { [`127.0.0.1:${1000 + i}`]: 1 + (i % 7), [`127.0.0.2:${2000 + i}`]: 1 },
    desc: `durability write ${i}`,
    labels: { seq: String(i) },
  };
}

/** The fields of `want` that `got` (an Admin API value) does not hold as sent. */
function diff(id: string, want: Up, got: unknown): string[] {
  if (got === null || typeof got !== 'object') return [`${id}: missing`];
  const g = got as Record<string, unknown>;
  const out: string[] = [];
  if (g.id !== id) out.push(`${id}: id ${JSON.stringify(g.id)}`);
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(g[k]) !== JSON.stringify(v)) out.push(`${id}: ${k} ${JSON.stringify(g[k])} != ${JSON.stringify(v)}`);
  }
  return out;
}

test('acknowledged admin writes survive SIGKILL of the gateway', { timeout: 20_000 }, async (t: TestContext) => {
  t.plan(7);
  const prefix = makePrefix(t, {});
  const first = await startTestChild(t, prefix);

  const acked = new Map<string, Up>();
  let inFlight: { id: string; up: Up } | undefined;
  let failed: unknown;
  for (let i = 1; i <= MAX_WRITES; i++) {
    const id = `u${i}`;
    const up = body(i);
    // Armed right after an ack, the timer fires while the next PUT (sent just below) is on its way or being served.
    if (acked.size === KILL_AFTER) setTimeout(() => first.kill('SIGKILL'), 0);
    inFlight = { id, up };
    try {
      const res = await adminRequest(first.adminUrl, 'PUT', `/apisix/admin/upstreams/${id}`, up);
      if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${id}: ${res.status} ${res.text}`);
    } catch (err) {
      failed = err;
      break;
    }
    acked.set(id, up);
  }
  const exit = await first.exited;
  t.assert.ok(failed instanceof TypeError, `the write in flight failed with the connection: ${String(failed)}`);
  t.assert.ok(acked.size >= KILL_AFTER, `${acked.size} writes acknowledged before the kill`);
  t.assert.deepStrictEqual(exit, { code: null, signal: 'SIGKILL' });

  const second = await startTestChild(t, prefix);
  const lost: string[] = [];
  for (const [id, up] of acked) {
    const res = await adminRequest(second.adminUrl, 'GET', `/apisix/admin/upstreams/${id}`);
    if (res.status !== 200) lost.push(`${id}: GET ${res.status}`);
    else lost.push(...diff(id, up, (res.json as { value?: unknown } | undefined)?.value));
  }
  t.assert.deepStrictEqual(lost, [], 'every acknowledged write is there, as sent');

  // The write that was in flight is all-or-nothing, and nothing else appeared.
  if (inFlight === undefined) throw new Error('no write was in flight');
  const pending = await adminRequest(second.adminUrl, 'GET', `/apisix/admin/upstreams/${inFlight.id}`);
  const landed = pending.status === 200;
  t.assert.deepStrictEqual(
    landed ? diff(inFlight.id, inFlight.up, (pending.json as { value?: unknown }).value) : pending.status, landed ? [] : 404,
    `the write in flight (${inFlight.id}) is whole or absent`,
  );
  const list = await adminRequest(second.adminUrl, 'GET', '/apisix/admin/upstreams?page=1&page_size=10');
  t.assert.strictEqual((list.json as { total?: number }).total, acked.size + (landed ? 1 : 0), 'no other upstream exists');

  // The restarted store takes writes again.
  const next = await adminRequest(second.adminUrl, 'PUT', '/apisix/admin/upstreams/after-restart', body(0));
  t.assert.strictEqual(next.status, 201, next.text);
});
