// Sets of IPs and CIDRs (allow_admin, real_ip_from), compiled once on lib/ip.ts's numeric form, so that a membership
// test is a parse and a compare per entry. IPv4-mapped IPv6 addresses (::ffff:1.2.3.4, as seen on dual-stack
// sockets) count as IPv4 on both sides.
import { cidrHas, compileCidr, parseIp, type CompiledCidr } from './ip.ts';

/** `::ffff:1.2.3.4` → `1.2.3.4`; other addresses unchanged. */
export function unmapV4(ip: string): string {
  return ip.length > 7 && ip.charCodeAt(0) === 58 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

export class CidrSet {
  readonly #entries: readonly CompiledCidr[];
  readonly size: number;
  private constructor(entries: readonly CompiledCidr[]) {
    this.#entries = entries;
    this.size = entries.length;
  }

  /** Throws on the first invalid entry, naming it. */
  static parse(texts: readonly string[]): CidrSet {
    const out: CompiledCidr[] = [];
    for (const t of texts) {
      const c = compileCidr(t);
      if (c === undefined) throw new Error(`invalid CIDR or IP: ${t}`);
      out.push(c);
    }
    return new CidrSet(out);
  }

  has(ip: string): boolean {
    const a = parseIp(ip);
    if (a === undefined) return false;
    for (const c of this.#entries) if (cidrHas(c, a)) return true;
    return false;
  }
}
