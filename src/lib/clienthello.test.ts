// The hand-written ClientHello parser (issue 6): table tests on real ClientHellos captured from Node's TLS client and
// on hand-built ones (test/fixtures/tls-hello.ts). Its fuzzing is test/fuzz/targets/clienthello.ts.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { MAX_HELLO_BYTES, parseClientHello, type HelloResult } from './clienthello.ts';
import { build, reframe, u16 } from '../../test/fixtures/tls-hello.ts';

/** The first TLS record Node's client sends with `opts` (its ClientHello), caught by a plain TCP server. */
async function capture(opts: ConnectionOptions): Promise<Buffer> {
  const srv = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
        srv.emit('hello', buf.subarray(0, 5 + buf.readUInt16BE(3)));
        s.destroy();
      }
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const c = tlsConnect({ port: (srv.address() as AddressInfo).port, host: '127.0.0.1', ...opts });
  c.on('error', () => { /* the capture server hangs up */ });
  const [hello] = await once(srv, 'hello') as [Buffer];
  c.destroy();
  srv.close();
  return hello;
}

const LONG_NAME = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.test.com`;

async function captures(): Promise<{ name: string; hello: Buffer; sni: string | undefined }[]> {
  return [
    { name: 'TLS 1.3, SNI test.com', hello: await capture({ servername: 'test.com' }), sni: 'test.com' },
    { name: 'TLS 1.2 only, SNI a.test.com, ALPN', hello: await capture({ servername: 'a.test.com', maxVersion: 'TLSv1.2', ALPNProtocols: ['h2', 'http/1.1'] }), sni: 'a.test.com' },
    { name: 'no SNI (an IP host)', hello: await capture({}), sni: undefined },
    { name: 'a long SNI', hello: await capture({ servername: LONG_NAME }), sni: LONG_NAME },
  ];
}

const kindOf = (r: HelloResult): string => (r.kind === 'ok' ? `ok ${r.sni ?? '-'}` : r.kind);

test('real ClientHellos: ok with their SNI, whole, re-framed into small records, or followed by more bytes', async (t: TestContext) => {
  const hellos = await captures();
  const sizes = [1, 3, 7, 100, 512];
  t.plan(hellos.length * (3 + sizes.length));
  for (const h of hellos) {
    const want = `ok ${h.sni ?? '-'}`;
    t.assert.strictEqual(kindOf(parseClientHello(h.hello)), want, h.name);
    for (const size of sizes) t.assert.strictEqual(kindOf(parseClientHello(reframe(h.hello, size))), want, `${h.name}, records of ${size} bytes`);
    t.assert.strictEqual(kindOf(parseClientHello(Buffer.concat([h.hello, Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01])]))), want, `${h.name}, a record after it`);
    t.assert.strictEqual(kindOf(parseClientHello(Buffer.concat([h.hello, Buffer.from('garbage')]))), want, `${h.name}, garbage after it`);
  }
});

test('every proper prefix of a ClientHello (one record, or re-framed) is need_more', async (t: TestContext) => {
  const hellos = await captures();
  const variants = hellos.flatMap((h) => [{ name: h.name, buf: h.hello }, { name: `${h.name}, 7-byte records`, buf: reframe(h.hello, 7) }]);
  t.plan(variants.length);
  for (const v of variants) {
    const wrong: string[] = [];
    for (let n = 0; n < v.buf.length; n++) {
      const k = parseClientHello(v.buf.subarray(0, n)).kind;
      if (k !== 'need_more') wrong.push(`${n}: ${k}`);
    }
    t.assert.deepStrictEqual(wrong, [], v.name);
  }
});

const table: { name: string; buf: () => Buffer; want: string }[] = [
  { name: 'empty', buf: () => Buffer.alloc(0), want: 'need_more' },
  { name: 'one handshake byte', buf: () => Buffer.from([0x16]), want: 'need_more' },
  { name: 'HTTP', buf: () => Buffer.from('GET / HTTP/1.1\r\nHost: test.com\r\n\r\n'), want: 'not_tls' },
  { name: 'one byte of HTTP', buf: () => Buffer.from('G'), want: 'not_tls' },
  { name: 'an SSLv2-compatible ClientHello', buf: () => Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15]), want: 'not_tls' },
  { name: 'a handshake record with version major 2', buf: () => Buffer.from([0x16, 0x02, 0x00, 0x00, 0x05]), want: 'not_tls' },
  { name: 'an application data record first', buf: () => Buffer.from([0x17, 0x03, 0x03, 0x00, 0x01, 0x00]), want: 'not_tls' },
  { name: 'a PROXY protocol header', buf: () => Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), want: 'not_tls' },
  { name: 'a record of length 0', buf: () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), want: 'malformed' },
  { name: 'a record longer than TLS allows', buf: () => Buffer.from([0x16, 0x03, 0x01, 0x48, 0x01]), want: 'malformed' },
  { name: 'a ServerHello', buf: () => build({ handshakeType: 2 }), want: 'malformed' },
  { name: 'a ClientHello announcing 16 MiB', buf: () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff]), want: 'malformed' },
  { name: 'an alert record inside a split ClientHello', buf: () => Buffer.concat([reframe(build({ sni: 'test.com' }), 10).subarray(0, 15), Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])]), want: 'malformed' },
  { name: 'a ClientHello shorter than its fixed fields', buf: () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00]), want: 'malformed' },
  { name: 'no cipher suites', buf: () => build({ sni: 'test.com', suites: Buffer.alloc(0) }), want: 'malformed' },
  { name: 'an odd cipher_suites length', buf: () => build({ sni: 'test.com', suites: Buffer.from([0x13, 0x01, 0x13]) }), want: 'malformed' },
  { name: 'an extensions length past the end', buf: () => build({ sni: 'test.com', patch: [4 + 2 + 32 + 1 + 2 + 4 + 2, u16(0xfff0)] }), want: 'malformed' },
  { name: 'an extension length past the block', buf: () => build({ extensions: Buffer.concat([u16(0), u16(50), Buffer.alloc(10)]) }), want: 'malformed' },
  { name: 'a server_name list length past the extension', buf: () => build({ extensions: Buffer.concat([u16(0), u16(4), u16(40), Buffer.from([0, 0])]) }), want: 'malformed' },
  { name: 'a name length past the list', buf: () => build({ extensions: Buffer.concat([u16(0), u16(7), u16(5), Buffer.from([0]), u16(30), Buffer.from('ab')]) }), want: 'malformed' },
  { name: 'a name with a space', buf: () => build({ sni: 'te st.com' }), want: 'malformed' },
  { name: 'a name with a NUL', buf: () => build({ sni: 'test.com\u0000.evil' }), want: 'malformed' },
  { name: 'a name with a slash', buf: () => build({ sni: '../etc' }), want: 'malformed' },
  { name: 'an empty name', buf: () => build({ sni: '' }), want: 'malformed' },
  { name: 'a label of 64 characters', buf: () => build({ sni: `${'a'.repeat(64)}.com` }), want: 'malformed' },
  { name: 'a name with UTF-8 bytes', buf: () => build({ sni: Buffer.from('tést.com', 'utf8') }), want: 'malformed' },
  { name: 'a name in capitals', buf: () => build({ sni: 'A.Test.COM' }), want: 'ok a.test.com' },
  { name: 'a name with a trailing dot', buf: () => build({ sni: 'test.com.' }), want: 'ok test.com' },
  { name: 'a single-label name', buf: () => build({ sni: 'localhost' }), want: 'ok localhost' },
  { name: 'a name with _ and -', buf: () => build({ sni: '_srv.my-host.test.com' }), want: 'ok _srv.my-host.test.com' },
  { name: 'no extensions block (an old client)', buf: () => build({ extensions: null }), want: 'ok -' },
  { name: 'an empty extensions block', buf: () => build({ extensions: Buffer.alloc(0) }), want: 'ok -' },
  { name: 'extensions without server_name', buf: () => build({}), want: 'ok -' },
  { name: 'a server_name entry that is not a host_name', buf: () => build({ sni: 'test.com', nameType: 1 }), want: 'ok -' },
  { name: 'an empty server_name extension (as a server sends it)', buf: () => build({ extensions: Buffer.concat([u16(0), u16(0)]) }), want: 'malformed' },
];

test('hand-built and odd first packets', (t: TestContext) => {
  t.plan(table.length);
  for (const c of table) t.assert.strictEqual(kindOf(parseClientHello(c.buf())), c.want, c.name);
});

test('a ClientHello that is still unfinished at 16 KiB is malformed, not need_more', (t: TestContext) => {
  t.plan(2);
  // a 20 000-byte ClientHello in 1000-byte records: 16 KiB of it are not enough to finish it
  const hugeExt = Buffer.concat([u16(0xff01), u16(19_800), Buffer.alloc(19_800)]);
  const framed = reframe(build({ extensions: hugeExt }), 1000);
  t.assert.strictEqual(parseClientHello(framed.subarray(0, MAX_HELLO_BYTES - 1)).kind, 'malformed', 'its length is over the bound: refused as soon as known');
  const unfinished = reframe(build({ extensions: Buffer.concat([u16(0xff01), u16(15_000), Buffer.alloc(15_000)]) }), 40);
  t.assert.strictEqual(parseClientHello(unfinished.subarray(0, MAX_HELLO_BYTES)).kind, 'malformed', '16 KiB read, record overhead included, and still unfinished');
});

