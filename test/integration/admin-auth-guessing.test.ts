// Wrong admin keys (issue 14): after a few from one address, that address's 401s are held back longer and longer,
// counted in sluice_admin_auth_failures_total; a good key is never held back, from that address or another.
import { request } from 'node:http';
import { test, type TestContext } from 'node:test';
import { ADMIN_KEY, startTestGateway } from '../fixtures/gateway.ts';

interface Answer { status: number; ms: number }

/** GET /apisix/admin/routes-free path with `key`, from `localAddress`, on a connection of its own. */
function ask(base: string, key: string, localAddress = '127.0.0.1'): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${base}/apisix/admin/upstreams`, { headers: { 'X-API-KEY': key }, localAddress, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

test('admin keys: repeated wrong keys from one address are slowed and counted; good keys and other addresses are not', { timeout: 30_000 }, async (t: TestContext) => {
  const g = await startTestGateway(t, { stream_plugins: ['prometheus'], plugin_attr: { prometheus: { enable_export_server: false } } });
  const base = g.adminUrl;
  const first: Answer[] = [];
  for (let i = 0; i < 5; i++) first.push(await ask(base, `wrong-${i}`));
  t.assert.deepStrictEqual(first.map((a) => a.status), [401, 401, 401, 401, 401]);

  // the 6th wrong key waits 250 ms, the 7th 500 ms; a good key sent after the 7th is answered before it
  t.assert.ok((await ask(base, 'wrong-5')).ms >= 240);
  const seventh = ask(base, 'wrong-6');
  const order: string[] = [];
  const good = ask(base, ADMIN_KEY).then((a) => { order.push('good'); return a; });
  const other = ask(base, 'wrong-from-elsewhere', '127.0.0.2').then((a) => { order.push('other address'); return a; });
  const [s, gd, o] = await Promise.all([seventh.then((a) => { order.push('wrong'); return a; }), good, other]);
  t.assert.equal(gd.status, 200);
  t.assert.deepStrictEqual([s.status, o.status], [401, 401]);
  t.assert.ok(s.ms >= 490, `the 7th wrong key waited ${s.ms.toFixed(0)} ms`);
  t.assert.equal(order.at(-1), 'wrong', `answer order: ${order.join(', ')}`);

  const metrics = await g.admin('GET', '/apisix/prometheus/metrics');
  t.assert.match(metrics.text, /^sluice_admin_auth_failures_total\{answer="delayed"\} 2$/m);
  t.assert.match(metrics.text, /^sluice_admin_auth_failures_total\{answer="at_once"\} 6$/m);
});
