// mqtt-proxy on the wire (issue 12, CONTRACT §6): real MQTT clients (mosquitto_pub / mosquitto_sub, 3.1.1 and 5.0)
// through the gateway to a real broker; a CONNECT of another protocol level or anything that is not a CONNECT is
// closed with no bytes and 503 (ProtocolMismatch); chash with key mqtt_client_id keeps a client id on one node and an
// empty id falls back to remote_addr.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { mosquittoPub, mosquittoSub, startMosquitto } from '../fixtures/mosquitto.ts';
import { delay, endReasons, namedServer, talk } from '../fixtures/servers.ts';

const PLUGINS = ['mqtt-proxy'];

/** A minimal CONNECT: clean session, keep-alive 60 s, the client id as its payload (MQTT 3.1.1 §3.1; 5.0 adds an
 *  empty property list). */
function connectPacket(clientId: string, level = 4): Buffer {
  const id = Buffer.from(clientId);
  const variable = Buffer.concat([
    Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([level, 0x02, 0, 60]), level === 5 ? Buffer.from([0]) : Buffer.alloc(0),
    Buffer.from([id.length >> 8, id.length & 0xff]), id,
  ]);
  return Buffer.concat([Buffer.from([0x10, variable.length]), variable]);
}

test('mqtt-proxy: MQTT 3.1.1 publish and subscribe through the gateway to mosquitto (level 4)', async (t: TestContext) => {
  const broker = await startMosquitto(t);
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{}] });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    plugins: { 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 } },
    upstream: { type: 'chash', key: 'mqtt_client_id', nodes: [{ host: '127.0.0.1', port: broker.port, weight: 1 }] },
  });
  t.assert.equal(put.status, 201, put.text);
  const port = g.listenerPort();
  const sub = mosquittoSub({ port, topic: 'sluice/t', id: 'sub-1', count: 1 });
  await sub.ready;
  const pub = await mosquittoPub({ port, topic: 'sluice/t', id: 'pub-1', message: 'hello over sluice' });
  t.assert.equal(pub.status, 0, pub.stderr);
  const got = await sub.done;
  t.assert.equal(got.status, 0, got.stderr);
  t.assert.deepEqual(got.messages, ['sluice/t hello over sluice']);
  t.assert.deepEqual(await endReasons(g), { Done: 2 });
});

test('mqtt-proxy: MQTT 5.0 through a level-5 route; a 3.1.1 client on it is refused with 503 and no bytes', async (t: TestContext) => {
  const broker = await startMosquitto(t);
  const g = await startTestGateway(t, { stream_plugins: PLUGINS, nginx_config: { stream: { enable_access_log: true, access_log: 'logs/a.log' } } }, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    plugins: { 'mqtt-proxy': { protocol_level: 5 } }, // protocol_name defaults to MQTT
    upstream: { nodes: { [`127.0.0.1:${broker.port}`]: 1 } },
  });
  const port = g.listenerPort();
  const sub = mosquittoSub({ port, topic: 'v5/t', id: 'sub-5', count: 1, version: 'mqttv5' });
  await sub.ready;
  const pub = await mosquittoPub({ port, topic: 'v5/t', id: 'pub-5', message: 'five', version: 'mqttv5' });
  t.assert.equal(pub.status, 0, pub.stderr);
  t.assert.deepEqual((await sub.done).messages, ['v5/t five']);
  const old = await mosquittoPub({ port, topic: 'v5/t', message: 'old', version: 'mqttv311', timeoutMs: 5000 });
  t.assert.notEqual(old.status, 0, 'a 3.1.1 client cannot publish through a level-5 route');
  const raw = await talk(port, { send: connectPacket('x', 4) });
  t.assert.equal(raw.data.length, 0, 'refused with no bytes');
  t.assert.ok(raw.closed);
  const reasons = await endReasons(g);
  t.assert.equal(reasons.Done, 2);
  t.assert.equal(reasons.ProtocolMismatch, 2);
  const file = path.join(g.prefix, 'logs/a.log');
  let statuses: string[] = [];
  for (let i = 0; i < 100 && statuses.length < 4; i++) {
    await delay(20);
    try { statuses = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' ')[4] ?? ''); } catch { /* not yet written */ }
  }
  t.assert.deepEqual(statuses.filter((s) => s === '503').length, 2, statuses.join(','));
});

test('mqtt-proxy: bytes that are not an MQTT CONNECT, or a malformed one, are closed with no bytes (503)', async (t: TestContext) => {
  const up = await namedServer(t, 'upstream');
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{}] });
  await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { 'mqtt-proxy': { protocol_level: 4 } }, upstream: { nodes: { [up.node]: 1 } } });
  const bad = [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), // remaining length over four bytes
    Buffer.concat([Buffer.from([0x10, 10, 0, 4]), Buffer.from('MQTX'), Buffer.from([4, 2, 0, 60])]), // another protocol name
    Buffer.from([0x10, 2, 0]), // truncated, then FIN
  ];
  for (const b of bad) {
    const r = await talk(g.listenerPort(), { send: b });
    t.assert.equal(r.data.toString(), '', `refused: ${b.toString('hex')}`);
  }
  t.assert.equal(up.connections(), 0, 'no upstream was dialled');
  const good = await talk(g.listenerPort(), { send: connectPacket('ok', 4) });
  t.assert.equal(good.data.toString(), 'upstream', 'a good CONNECT is proxied');
  const reasons = await endReasons(g);
  t.assert.equal(reasons.Done, 1);
  t.assert.equal((reasons.ProtocolMismatch ?? 0) + (reasons.ClientClosed ?? 0), 4, JSON.stringify(reasons));
});

test('mqtt-proxy + chash key mqtt_client_id: one client id always reaches the same node; ids spread; an empty id hashes remote_addr', async (t: TestContext) => {
  const names = ['a', 'b', 'c'];
  const ups = await Promise.all(names.map((n) => namedServer(t, n)));
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{}] });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    plugins: { 'mqtt-proxy': { protocol_level: 4 } },
    upstream: { type: 'chash', key: 'mqtt_client_id', nodes: Object.fromEntries(ups.map((u) => [u.node, 1])) },
  });
  t.assert.equal(put.status, 201, put.text);
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const id = `device-${i}`;
    const first = (await talk(g.listenerPort(), { send: connectPacket(id) })).data.toString();
    t.assert.ok(names.includes(first), `${id} → ${first}`);
    for (let k = 0; k < 2; k++) t.assert.equal((await talk(g.listenerPort(), { send: connectPacket(id) })).data.toString(), first, `${id} sticks to ${first}`);
    seen.add(first);
  }
  t.assert.ok(seen.size >= 2, `12 client ids spread over ${seen.size} node(s)`);
  // an empty id: remote_addr is the key, so one source address sticks and the answer does not depend on the packet
  const anon = async (from: string): Promise<string> => (await talk(g.listenerPort(), { localAddress: from, send: connectPacket('') })).data.toString();
  const fromA = await anon('127.0.0.1');
  t.assert.equal(await anon('127.0.0.1'), fromA);
  const fromOthers = new Set<string>();
  for (let i = 2; i < 14; i++) fromOthers.add(await anon(`127.0.0.${i}`));
  t.assert.ok(fromOthers.size >= 2, `12 source addresses with empty ids spread over ${fromOthers.size} node(s)`);
});

test('mqtt-proxy: its schema requires protocol_level (APISIX\'s error text)', async (t: TestContext) => {
  const g = await startTestGateway(t, { stream_plugins: PLUGINS }, { listeners: [{}] });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { 'mqtt-proxy': { protocol_name: 'MQTT' } }, upstream: { nodes: { '127.0.0.1:1': 1 } } });
  t.assert.equal(put.status, 400);
  t.assert.match(put.text, /failed to check the configuration of stream plugin \[mqtt-proxy\]: property \\?"protocol_level\\?" is required/);
});
