import { test, type TestContext } from 'node:test';
import { parseConnect } from './mqtt.ts';

const str = (s: string): Buffer => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
function varint(n: number): Buffer {
  const out: number[] = [];
  do { let b = n % 128; n = Math.floor(n / 128); if (n > 0) b |= 128; out.push(b); } while (n > 0);
  return Buffer.from(out);
}
/** A CONNECT packet: name, level, flags, keepalive, (v5 properties), client id, then extra payload fields. */
function connect(o: { name?: string; level?: number; flags?: number; id?: string; props?: Buffer; rest?: Buffer } = {}): Buffer {
  const level = o.level ?? 4;
  const vh = Buffer.concat([str(o.name ?? 'MQTT'), Buffer.from([level, o.flags ?? 2, 0, 60]), level === 5 ? Buffer.concat([varint((o.props ?? Buffer.alloc(0)).length), o.props ?? Buffer.alloc(0)]) : Buffer.alloc(0)]);
  const body = Buffer.concat([vh, str(o.id ?? 'client-1'), o.rest ?? Buffer.alloc(0)]);
  return Buffer.concat([Buffer.from([0x10]), varint(body.length), body]);
}

const ok = [
  { name: '3.1.1', pkt: connect(), want: { protocolName: 'MQTT', protocolLevel: 4, clientId: 'client-1' } },
  { name: '5.0 without properties', pkt: connect({ level: 5 }), want: { protocolName: 'MQTT', protocolLevel: 5, clientId: 'client-1' } },
  { name: '5.0 with properties (session expiry, receive maximum)', pkt: connect({ level: 5, props: Buffer.from([0x11, 0, 0, 0, 10, 0x21, 0, 20]) }), want: { protocolName: 'MQTT', protocolLevel: 5, clientId: 'client-1' } },
  { name: '3.1 MQIsdp', pkt: connect({ name: 'MQIsdp', level: 3 }), want: { protocolName: 'MQIsdp', protocolLevel: 3, clientId: 'client-1' } },
  { name: 'empty client id', pkt: connect({ id: '' }), want: { protocolName: 'MQTT', protocolLevel: 4, clientId: '' } },
  { name: 'will, username and password', pkt: connect({ flags: 0xc6, rest: Buffer.concat([str('t'), str('bye'), str('u'), str('p')]) }), want: { protocolName: 'MQTT', protocolLevel: 4, clientId: 'client-1' } },
  { name: 'a large payload (2-byte remaining length)', pkt: connect({ flags: 0x06, rest: Buffer.concat([str('topic'), str('x'.repeat(300))]) }), want: { protocolName: 'MQTT', protocolLevel: 4, clientId: 'client-1' } },
  { name: 'unicode client id', pkt: connect({ id: 'ünï-😀' }), want: { protocolName: 'MQTT', protocolLevel: 4, clientId: 'ünï-😀' } },
];

test('parseConnect reads protocol name, level and client id of valid CONNECTs', (t: TestContext) => {
  t.plan(ok.length * 2);
  for (const c of ok) {
    const r = parseConnect(Buffer.concat([c.pkt, Buffer.from([0x30, 2, 0, 0])])); // a PUBLISH after it is ignored
    t.assert.equal(r.kind === 'ok' ? r.length : -1, c.pkt.length, c.name);
    t.assert.deepStrictEqual(r.kind === 'ok' ? { protocolName: r.protocolName, protocolLevel: r.protocolLevel, clientId: r.clientId } : r, c.want, c.name);
  }
});

test('every prefix of a valid CONNECT asks for more; the whole packet parses', (t: TestContext) => {
  const pkts = ok.map((c) => c.pkt);
  t.plan(pkts.reduce((n, p) => n + p.length + 1, 0));
  for (const p of pkts) {
    for (let i = 0; i < p.length; i++) t.assert.equal(parseConnect(p.subarray(0, i)).kind, 'need_more', `prefix ${i}/${p.length}`);
    t.assert.equal(parseConnect(p).kind, 'ok');
  }
});

const bads: { name: string; pkt: Buffer; reason: RegExp }[] = [
  { name: 'a PUBLISH first', pkt: Buffer.from([0x30, 2, 0, 0]), reason: /not an MQTT CONNECT packet \(first byte 0x30\)/ },
  { name: 'CONNECT with reserved flags', pkt: Buffer.from([0x11, 0]), reason: /first byte 0x11/ },
  { name: 'TLS ClientHello', pkt: Buffer.from([0x16, 3, 1, 0, 5]), reason: /first byte 0x16/ },
  { name: 'five-byte remaining length', pkt: Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 1]), reason: /malformed remaining length/ },
  { name: 'over the size cap', pkt: Buffer.from([0x10, 0xff, 0xff, 0x7f]), reason: /over the 65536-byte limit/ },
  { name: 'protocol name past the packet', pkt: Buffer.from([0x10, 3, 0, 9, 0x4d]), reason: /protocol name runs past/ },
  { name: 'header past the packet', pkt: Buffer.concat([Buffer.from([0x10, 7]), str('MQTT'), Buffer.from([4])]), reason: /variable header runs past/ },
  { name: 'client id past the packet', pkt: Buffer.concat([Buffer.from([0x10, 12]), str('MQTT'), Buffer.from([4, 2, 0, 60, 0, 9])]), reason: /client id runs past/ },
  { name: 'v5 properties past the packet', pkt: Buffer.concat([Buffer.from([0x10, 11]), str('MQTT'), Buffer.from([5, 2, 0, 60, 50])]), reason: /properties run past/ },
  { name: 'reserved connect flag', pkt: connect({ flags: 3 }), reason: /reserved connect flag/ },
  { name: 'invalid UTF-8 client id', pkt: Buffer.concat([Buffer.from([0x10, 14]), str('MQTT'), Buffer.from([4, 2, 0, 60, 0, 2, 0xc3, 0x28])]), reason: /not valid UTF-8/ },
];

test('malformed or foreign bytes are refused with a reason', (t: TestContext) => {
  t.plan(bads.length);
  for (const c of bads) {
    const r = parseConnect(c.pkt);
    t.assert.match(r.kind === 'bad' ? r.reason : `kind ${r.kind}`, c.reason, c.name);
  }
});
