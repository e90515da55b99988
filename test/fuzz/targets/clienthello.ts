// Fuzzes the ClientHello reader (src/lib/clienthello.ts) that picks a certificate and a passthrough route by SNI
// before any TLS runs: hand-built ClientHellos (SNI, name types, cipher lists, extension blocks, none), re-framed into
// small records, mutated, truncated, and random bytes that start like a TLS record. Checked: one of the four answers;
// need_more never at 16 KiB or more; an ok SNI is a lower-case host name; what follows a complete answer (ok or
// not_tls) cannot change it.
import fc from 'fast-check';
import { MAX_HELLO_BYTES, parseClientHello, type HelloResult } from '../../../src/lib/clienthello.ts';
import { build, reframe, u16 } from '../../fixtures/tls-hello.ts';
import { hex, mutated, type FuzzTarget } from '../harness.ts';

const HOST = /^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/;
const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,20}$/);
const sni = fc.oneof(fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.')), fc.string({ maxLength: 40 }));

const hello = fc.record({
  sni: fc.option(sni, { nil: undefined }),
  nameType: fc.constantFrom(0, 0, 1, 255),
  suites: fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)), { nil: undefined }),
  alpn: fc.boolean(),
  bare: fc.constantFrom(false, false, false, true),
  frame: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
}).map((o) => {
  const alpn = o.alpn ? Buffer.concat([u16(0x0010), u16(5), u16(3), Buffer.from([2]), Buffer.from('h2')]) : Buffer.alloc(0);
  const sniExt = o.sni === undefined ? Buffer.alloc(0) : (() => {
    const name = Buffer.from(o.sni, 'latin1');
    const entry = Buffer.concat([Buffer.from([o.nameType]), u16(name.length), name]);
    const list = Buffer.concat([u16(entry.length), entry]);
    return Buffer.concat([u16(0), u16(list.length), list]);
  })();
  const ext = Buffer.concat([u16(0x000a), u16(4), u16(2), u16(0x001d), alpn, sniExt]);
  const h = build({ ...(o.suites !== undefined ? { suites: o.suites } : {}), extensions: o.bare ? null : ext });
  return new Uint8Array(o.frame !== undefined ? reframe(h, o.frame) : h);
});

const junk = fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 300 })).map(([tlsLike, b]) => {
  const out = Buffer.from(b);
  if (tlsLike && out.length >= 2) { out[0] = 0x16; out[1] = 0x03; }
  return new Uint8Array(out);
});

const input = fc.oneof({ arbitrary: hello, weight: 2 }, { arbitrary: mutated(hello), weight: 7 }, { arbitrary: junk, weight: 1 });

const kindOf = (r: HelloResult): string => (r.kind === 'ok' ? `ok ${r.sni ?? '-'}` : r.kind);

export const target: FuzzTarget<Uint8Array> = {
  name: 'clienthello',
  arbitrary: input,
  show: hex,
  boundMs: 25,
  mustReach: ['ok', 'need_more', 'not_tls', 'malformed'],
  check(bytes) {
    const buf = Buffer.from(bytes);
    const r = parseClientHello(buf);
    if (!['need_more', 'not_tls', 'malformed', 'ok'].includes(r.kind)) return { fail: `answered ${String(r.kind)}` };
    if (r.kind === 'need_more' && buf.length >= MAX_HELLO_BYTES) return { fail: `need_more at ${buf.length} bytes` };
    if (r.kind === 'ok' && r.sni !== undefined && !HOST.test(r.sni)) return { fail: `ok with SNI ${JSON.stringify(r.sni)}` };
    if (r.kind === 'ok' || r.kind === 'not_tls') {
      const again = parseClientHello(Buffer.concat([buf, Buffer.from([0x17, 0x03, 0x03])]));
      if (kindOf(again) !== kindOf(r)) return { fail: `${kindOf(r)} became ${kindOf(again)} with 3 more bytes` };
    }
    return { kind: r.kind };
  },
};
