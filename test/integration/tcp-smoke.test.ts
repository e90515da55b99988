// The smallest end-to-end proof of the TCP data plane: a route, an echo server, bytes both ways.
import { connect, createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';

test('tcp: a client talks to an echo upstream through a route', async (t: TestContext) => {
  t.plan(2);
  const echo = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const g = await startTestGateway(t, {}, { listeners: [{}] });
  const up = (echo.address() as AddressInfo).port;
  const r = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { nodes: { [`127.0.0.1:${up}`]: 1 } } });
  t.assert.equal(r.status, 201);
  const got = await new Promise<string>((resolve, reject) => {
    const c = connect(g.listenerPort(), '127.0.0.1');
    let buf = '';
    c.on('data', (d: Buffer) => { buf += d.toString(); });
    c.on('connect', () => c.end('hello sluice'));
    c.on('close', () => resolve(buf));
    c.on('error', reject);
  });
  t.assert.equal(got, 'hello sluice');
});
