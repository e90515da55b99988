// CIDR sets compiled once (strings → net.BlockList); per lookup only a membership test.
// IPv4-mapped IPv6 client addresses (::ffff:1.2.3.4, as seen on dual-stack sockets) are checked as IPv4.
import { BlockList, isIP } from 'node:net';

export type AddrFamily = 'ipv4' | 'ipv6';

export interface ParsedCidr {
  readonly family: AddrFamily;
  readonly address: string;
  readonly prefix: number;
}

/** Parses `ip` or `ip/len`; undefined when invalid (`:/8`, `1.2.3.4/33`, `x`). */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const fam = isIP(addr);
  if (fam === 0) return undefined;
  const max = fam === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > max) return undefined;
  }
  return { family: fam === 4 ? 'ipv4' : 'ipv6', address: addr, prefix };
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
export function unmapV4(ip: string): string {
  return ip.length > 7 && ip.charCodeAt(0) === 58 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

export class CidrSet {
  readonly #list = new BlockList();
  readonly size: number;
  private constructor(entries: readonly ParsedCidr[]) {
    for (const c of entries) this.#list.addSubnet(c.address, c.prefix, c.family);
    this.size = entries.length;
  }

  /** Throws on the first invalid entry, naming it. */
  static parse(texts: readonly string[]): CidrSet {
    const out: ParsedCidr[] = [];
    for (const t of texts) {
      const c = parseCidr(t);
      if (c === undefined) throw new Error(`invalid CIDR or IP: ${t}`);
      out.push(c);
    }
    return new CidrSet(out);
  }

  has(ip: string): boolean {
    const a = unmapV4(ip);
    const fam = isIP(a);
    if (fam === 0) return false;
    return this.#list.check(a, fam === 4 ? 'ipv4' : 'ipv6');
  }
}
