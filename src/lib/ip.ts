// IP addresses as numbers, for the per-connection route match: an IPv4 address is a uint32, an IPv6 address a
// bigint; a CIDR is compiled once into (network, prefix length) so that a match is a shift and a compare.
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is treated as IPv4 on both sides.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpNum {
  readonly v6: boolean;
  /** IPv4 as uint32 (v6 false). */
  readonly v4: number;
  /** IPv6 as 128-bit bigint (v6 true). */
  readonly big: bigint;
}

export interface CompiledCidr {
  readonly v6: boolean;
  readonly prefix: number;
  readonly net4: number;
  readonly mask4: number;
  readonly net6: bigint;
  readonly text: string;
}

function v4ToNum(s: string): number {
  const p = s.split('.');
  return (((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0);
}

function v6ToBig(s: string): bigint {
  let str = s;
  const zone = str.indexOf('%');
  if (zone >= 0) str = str.slice(0, zone);
  // an embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two hextets
  const lastColon = str.lastIndexOf(':');
  const tail = str.slice(lastColon + 1);
  if (tail.includes('.')) {
    const n = v4ToNum(tail);
    str = `${str.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const dbl = str.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const head = str.slice(0, dbl).split(':').filter((g) => g !== '');
    const rest = str.slice(dbl + 2).split(':').filter((g) => g !== '');
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else {
    groups = str.split(':');
  }
  let out = 0n;
  for (const g of groups) out = (out << 16n) | BigInt(parseInt(g, 16));
  return out;
}


/** Parses a textual address; undefined if it is not an IP. Mapped IPv4 comes back as IPv4. */
export function parseIp(s: string): IpNum | undefined {
  if (isIPv4(s)) return { v6: false, v4: v4ToNum(s), big: 0n };
  if (!isIPv6(s)) return undefined;
  const big = v6ToBig(s);
  if (big >> 32n === 0xffffn) return { v6: false, v4: Number(big & 0xffffffffn), big: 0n };
  return { v6: true, v4: 0, big };
}

/** `ip` or `ip/len`; undefined when invalid. A mapped-IPv4 CIDR (::ffff:0:0/96 and longer) becomes IPv4. */
export function compileCidr(text: string): CompiledCidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) return undefined;
  if (isIPv4(addr)) {
    const prefix = lenText === undefined ? 32 : Number(lenText);
    if (prefix > 32) return undefined;
    const mask4 = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { v6: false, prefix, net4: (v4ToNum(addr) & mask4) >>> 0, mask4, net6: 0n, text };
  }
  if (!isIPv6(addr)) return undefined;
  let prefix = lenText === undefined ? 128 : Number(lenText);
  if (prefix > 128) return undefined;
  const big = v6ToBig(addr);
  if (prefix >= 96 && (big >> 32n) === 0xffffn) {
    prefix -= 96;
    const mask4 = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { v6: false, prefix, net4: (Number(big & 0xffffffffn) & mask4) >>> 0, mask4, net6: 0n, text };
  }
  const shift = BigInt(128 - prefix);
  return { v6: true, prefix, net4: 0, mask4: 0, net6: (big >> shift) << shift, text };
}

export function cidrHas(c: CompiledCidr, ip: IpNum): boolean {
  if (c.v6 !== ip.v6) return false;
  if (!c.v6) return ((ip.v4 & c.mask4) >>> 0) === c.net4;
  const shift = BigInt(128 - c.prefix);
  return ((ip.big >> shift) << shift) === c.net6;
}

