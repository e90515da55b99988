// Fuzzes the PROXY protocol v1/v2 reader (src/lib/proxy-protocol.ts), what a client (or anyone who can reach a
// PROXY-protocol listener) sends first: headers the encoder makes (v1 and v2, IPv4 and IPv6, with TLVs after v2's
// addresses), v1 UNKNOWN and v2 LOCAL, their prefixes, mutations, and random bytes behind either signature.
// Checked: an answer of one of the three kinds; `ok` lies within the input and reads the same from the header alone
// and with more bytes after it; `need_more` only for fewer bytes than the largest header; `invalid` has a reason.
import fc from 'fast-check';
import { encodeProxyHeader, parseProxyHeader, V2_MAX, V2_SIGNATURE } from '../../../src/lib/proxy-protocol.ts';
import { hex, mutated, type FuzzTarget } from '../harness.ts';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
const port = fc.nat(65535);

const encoded = fc.oneof(
  fc.tuple(fc.constantFrom(1 as const, 2 as const), ipv4, ipv4, port, port),
  fc.tuple(fc.constantFrom(1 as const, 2 as const), ipv6, ipv6, port, port),
).map(([v, srcAddr, dstAddr, srcPort, dstPort]) => new Uint8Array(encodeProxyHeader(v, { srcAddr, dstAddr, srcPort, dstPort })));

/** A v2 header with TLVs appended (the length field grows with them), or a LOCAL / unspecified one. */
const v2Extra = fc.tuple(encoded, fc.array(fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 40 })), { maxLength: 4 }), fc.constantFrom(0x21, 0x20, 0x22, 0x2f))
  .map(([h, tlvs, verCmd]) => {
    const b = Buffer.from(h);
    if (!b.subarray(0, 12).equals(V2_SIGNATURE)) return h;
    const extra = Buffer.concat(tlvs.map(([type, v]) => Buffer.concat([Buffer.from([type, v.length >> 8, v.length & 0xff]), v])));
    const out = Buffer.concat([b, extra]);
    out[12] = verCmd;
    out.writeUInt16BE(b.readUInt16BE(14) + extra.length, 14);
    return new Uint8Array(out);
  });

const v1Text = fc.tuple(fc.constantFrom('TCP4', 'TCP6', 'UNKNOWN', 'UDP4', 'tcp4', ''), fc.oneof(ipv4, ipv6, fc.string({ maxLength: 20 })), fc.oneof(ipv4, ipv6), fc.oneof(port.map(String), fc.string({ maxLength: 6 })), port, fc.constantFrom('\r\n', '\n', '', '\r'))
  .map(([proto, a, b, p, q, end]) => new Uint8Array(Buffer.from(`PROXY ${proto} ${a} ${b} ${p} ${q}${end}`, 'latin1')));

const junk = fc.tuple(fc.constantFrom(Buffer.alloc(0), V2_SIGNATURE, Buffer.from('PROXY ')), fc.uint8Array({ maxLength: 120 }))
  .map(([head, tail]) => new Uint8Array(Buffer.concat([head, tail])));

const prefix = fc.tuple(fc.oneof(encoded, v2Extra), fc.nat()).map(([h, n]) => h.subarray(0, n % (h.length + 1)));

const input = fc.oneof(
  { arbitrary: encoded, weight: 2 }, { arbitrary: v2Extra, weight: 2 }, { arbitrary: v1Text, weight: 2 },
  { arbitrary: prefix, weight: 2 }, { arbitrary: mutated(fc.oneof(encoded, v2Extra, v1Text)), weight: 6 }, { arbitrary: junk, weight: 2 },
);

export const target: FuzzTarget<Uint8Array> = {
  name: 'proxy-protocol',
  arbitrary: input,
  show: hex,
  boundMs: 25,
  mustReach: ['ok v1', 'ok v2', 'need_more', 'invalid'],
  check(bytes) {
    const buf = Buffer.from(bytes);
    const r = parseProxyHeader(buf);
    switch (r.kind) {
      case 'need_more':
        if (buf.length >= V2_MAX + 16) return { fail: `need_more with ${buf.length} bytes` };
        return { kind: 'need_more' };
      case 'invalid':
        if (typeof r.why !== 'string' || r.why === '') return { fail: 'invalid without a reason' };
        return { kind: 'invalid' };
      case 'ok': {
        if (r.length <= 0 || r.length > buf.length) return { fail: `ok with length ${r.length} of ${buf.length} bytes` };
        const alone = parseProxyHeader(buf.subarray(0, r.length));
        const more = parseProxyHeader(Buffer.concat([buf, Buffer.from('GET / HTTP/1.1\r\n')]));
        if (JSON.stringify(alone) !== JSON.stringify(r) || JSON.stringify(more) !== JSON.stringify(r)) return { fail: `ok reads differently alone or followed by bytes: ${JSON.stringify(r)}` };
        const a = r.addresses;
        if (a !== undefined && (a.srcPort > 65535 || a.dstPort > 65535 || a.srcAddr === '' || a.dstAddr === '')) return { fail: `ok with bad addresses ${JSON.stringify(a)}` };
        return { kind: `ok v${r.version}` };
      }
    }
  },
};
