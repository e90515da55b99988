// PROXY protocol v1 (text) and v2 (binary) headers: a bounded incremental parser for what clients (load balancers)
// send first, and encoders for what Sluice sends to upstreams. Hand-written: it is a few dozen bytes of a fixed
// format on the hot path of every such connection. Never throws.

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_MAX = 107;
/** A v2 header longer than this is refused (the standard allows 64 KiB of TLVs; nobody sends that). */
export const V2_MAX = 4096;

export interface ProxyAddresses {
  readonly family: 'tcp4' | 'tcp6';
  readonly srcAddr: string;
  readonly dstAddr: string;
  readonly srcPort: number;
  readonly dstPort: number;
}

export type PpResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'invalid'; readonly why: string }
  /** `addresses` undefined: v1 UNKNOWN, v2 LOCAL or an unspecified family (use the connection's own addresses). */
  | { readonly kind: 'ok'; readonly length: number; readonly addresses: ProxyAddresses | undefined; readonly version: 1 | 2 };

function v4(b: Buffer, o: number): string {
  return `${b[o] ?? 0}.${b[o + 1] ?? 0}.${b[o + 2] ?? 0}.${b[o + 3] ?? 0}`;
}

/** RFC 5952 text of 16 address bytes: lower-case hex, the longest run (≥ 2) of zero groups as `::`. */
function v6(b: Buffer, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(o + i));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

const V1_LINE = /^PROXY (?:(TCP4|TCP6) (\S+) (\S+) (\d{1,5}) (\d{1,5})|UNKNOWN[^\r\n]*)\r\n/;

export function parseProxyHeader(buf: Buffer): PpResult {
  if (buf.length === 0) return { kind: 'need_more' };
  if (buf[0] === 0x50) {
    // v1: "PROXY " then the rest of the line, at most 107 bytes with CRLF
    const n = Math.min(buf.length, V1_PREFIX.length);
    if (!buf.subarray(0, n).equals(V1_PREFIX.subarray(0, n))) return { kind: 'invalid', why: 'not a PROXY protocol header' };
    const end = buf.indexOf('\r\n', 0, 'latin1');
    if (end < 0) return buf.length >= V1_MAX ? { kind: 'invalid', why: 'PROXY v1 line too long' } : { kind: 'need_more' };
    if (end + 2 > V1_MAX) return { kind: 'invalid', why: 'PROXY v1 line too long' };
    const line = buf.toString('latin1', 0, end + 2);
    const m = V1_LINE.exec(line);
    if (m === null) return { kind: 'invalid', why: 'malformed PROXY v1 line' };
    if (m[1] === undefined) return { kind: 'ok', length: end + 2, addresses: undefined, version: 1 };
    const srcPort = Number(m[4]);
    const dstPort = Number(m[5]);
    if (srcPort > 65535 || dstPort > 65535) return { kind: 'invalid', why: 'PROXY v1 port out of range' };
    return {
      kind: 'ok', length: end + 2, version: 1,
      addresses: { family: m[1] === 'TCP4' ? 'tcp4' : 'tcp6', srcAddr: m[2] ?? '', dstAddr: m[3] ?? '', srcPort, dstPort },
    };
  }
  if (buf[0] === 0x0d) {
    const n = Math.min(buf.length, V2_SIGNATURE.length);
    if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return { kind: 'invalid', why: 'not a PROXY protocol header' };
    if (buf.length < 16) return { kind: 'need_more' };
    const verCmd = buf[12] as number;
    if (verCmd >> 4 !== 2) return { kind: 'invalid', why: 'PROXY v2: unsupported version' };
    const cmd = verCmd & 0x0f;
    if (cmd > 1) return { kind: 'invalid', why: 'PROXY v2: unknown command' };
    const len = 16 + buf.readUInt16BE(14);
    if (len > V2_MAX) return { kind: 'invalid', why: 'PROXY v2 header too long' };
    if (buf.length < len) return { kind: 'need_more' };
    if (cmd === 0) return { kind: 'ok', length: len, addresses: undefined, version: 2 }; // LOCAL
    const fam = buf[13] as number;
    if (fam === 0x11 && len >= 16 + 12) {
      return { kind: 'ok', length: len, version: 2, addresses: { family: 'tcp4', srcAddr: v4(buf, 16), dstAddr: v4(buf, 20), srcPort: buf.readUInt16BE(24), dstPort: buf.readUInt16BE(26) } };
    }
    if (fam === 0x21 && len >= 16 + 36) {
      return { kind: 'ok', length: len, version: 2, addresses: { family: 'tcp6', srcAddr: v6(buf, 16), dstAddr: v6(buf, 32), srcPort: buf.readUInt16BE(48), dstPort: buf.readUInt16BE(50) } };
    }
    if (fam === 0x11 || fam === 0x21) return { kind: 'invalid', why: 'PROXY v2: address block too short' };
    return { kind: 'ok', length: len, addresses: undefined, version: 2 }; // UNSPEC, UNIX, UDP: not for TCP routing
  }
  return { kind: 'invalid', why: 'not a PROXY protocol header' };
}

function isV6(a: string): boolean {
  return a.includes(':');
}

/** The header Sluice sends to an upstream: v1 text or v2 binary, for the client and the address it connected to. */
export function encodeProxyHeader(version: 1 | 2, a: Omit<ProxyAddresses, 'family'>): Buffer {
  const six = isV6(a.srcAddr) || isV6(a.dstAddr);
  const src = six && !isV6(a.srcAddr) ? `::ffff:${a.srcAddr}` : a.srcAddr;
  const dst = six && !isV6(a.dstAddr) ? `::ffff:${a.dstAddr}` : a.dstAddr;
  if (version === 1) return Buffer.from(`PROXY ${six ? 'TCP6' : 'TCP4'} ${src} ${dst} ${a.srcPort} ${a.dstPort}\r\n`, 'latin1');
  const body = Buffer.alloc(six ? 36 : 12);
  if (six) {
    ipv6Bytes(src).copy(body, 0);
    ipv6Bytes(dst).copy(body, 16);
    body.writeUInt16BE(a.srcPort, 32);
    body.writeUInt16BE(a.dstPort, 34);
  } else {
    src.split('.').forEach((p, i) => { body[i] = Number(p); });
    dst.split('.').forEach((p, i) => { body[4 + i] = Number(p); });
    body.writeUInt16BE(a.srcPort, 8);
    body.writeUInt16BE(a.dstPort, 10);
  }
  const head = Buffer.alloc(16);
  V2_SIGNATURE.copy(head, 0);
  head[12] = 0x21; // version 2, PROXY
  head[13] = six ? 0x21 : 0x11; // TCP over IPv6 / IPv4
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

function ipv6Bytes(a: string): Buffer {
  let s = a;
  const out = Buffer.alloc(16);
  const tail = s.lastIndexOf(':');
  if (s.slice(tail + 1).includes('.')) {
    const q = s.slice(tail + 1).split('.').map(Number);
    s = `${s.slice(0, tail + 1)}${(((q[0] ?? 0) << 8) | (q[1] ?? 0)).toString(16)}:${(((q[2] ?? 0) << 8) | (q[3] ?? 0)).toString(16)}`;
  }
  const [h, t] = s.split('::');
  const head = h === undefined || h === '' ? [] : h.split(':');
  const rest = t === undefined ? [] : t === '' ? [] : t.split(':');
  const groups = t === undefined ? head : [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) & 0xffff, i * 2));
  return out;
}
