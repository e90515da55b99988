// The native UDP path (native/src/udp.c, issue 13): it reads each datagram's destination (IP_PKTINFO), so on a
// wildcard listener a route's server_addr matches the address the client sent to, and the reply leaves from that
// address (a client with a connected socket accepts it). The rest of the UDP suite runs on it too, and again on the
// TypeScript path in `npm run test:js-relay`.
import { existsSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { ADDON_PATH } from '../../src/dataplane/native/addon.ts';
import { startTestGateway } from '../fixtures/gateway.ts';
import { put, waitFor } from '../fixtures/upstream-helpers.ts';
import { udpClient, udpCounters, udpEcho } from '../fixtures/udp.ts';

const EXPECTED = process.env.SLUICE_EXPECT_NATIVE === '1' || existsSync(ADDON_PATH);
const skip = (!EXPECTED && `the addon is not built (${ADDON_PATH})`) || (process.env.SLUICE_TEST_NATIVE_RELAY === 'off' && 'native_relay: off in this run');

test('native udp: on a wildcard listener server_addr matches the address sent to, and the reply leaves from it', { skip }, async (t: TestContext) => {
  t.plan(4);
  const echo = await udpEcho(t);
  const g = await startTestGateway(t, { sluice: { native_relay: 'auto' } }, { listeners: [{ proto: 'udp', host: null }] });
  const port = g.listenerPort();
  await put(g, 'stream_routes/1', { server_addr: '127.0.0.2', upstream: { nodes: { [echo.node]: 1 } } });
  const client = await udpClient(t, '127.0.0.1');
  const reply = await client.ask('to .2', port, 2000, '127.0.0.2');
  t.assert.deepStrictEqual(reply === undefined ? undefined : { node: reply.node, data: reply.data, fromAddr: reply.fromAddr, fromPort: reply.fromPort },
    { node: echo.node, data: 'to .2', fromAddr: '127.0.0.2', fromPort: port });
  // the same listener, another local address: no route takes it
  t.assert.equal(await client.ask('to .1', port, 500, '127.0.0.1'), undefined);
  await waitFor(async () => (await udpCounters(g)).drops.no_route === 1, 2000);
  t.assert.equal((await udpCounters(g)).drops.no_route, 1);
  t.assert.equal(echo.seen.length, 1);
});
