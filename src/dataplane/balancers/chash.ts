// Consistent hashing compatible with APISIX (lua-resty-balancer's chash, itself nginx's): weights are first divided by
// their greatest common divisor (APISIX's balancer/chash.lua does so, so 100:100 is the same ring as 1:1); each node
// then gets 160 × weight points on a CRC32 ring; a node's id is `host\0port` (APISIX replaces ':' with '\0'); point i's
// hash continues the CRC32 of the id over the previous point's hash (4 bytes, little-endian), starting from 0. A key
// hashes with CRC32 and takes the first point at or after it (wrapping). On a retry the walk goes on clockwise to the
// next point of a node still usable. Changing one node's weight (without changing the weights' gcd) or removing it
// moves only the keys of its own points.
import { crc32 } from 'node:zlib';
import type { Balancer, PickContext, UpstreamNode, Usable } from './balancer.ts';

export const POINTS_PER_WEIGHT = 160;

export class ConsistentHash implements Balancer {
  readonly #hashes: Uint32Array;
  readonly #owner: Uint32Array;
  readonly #nodes: readonly UpstreamNode[];
  readonly #key: (ctx: PickContext) => string;

  constructor(nodes: readonly UpstreamNode[], key: (ctx: PickContext) => string) {
    this.#nodes = nodes.filter((n) => n.weight > 0);
    this.#key = key;
    let g = 0;
    for (const n of this.#nodes) g = gcd(g, n.weight);
    const points: { hash: number; owner: number }[] = [];
    const prev = Buffer.alloc(4);
    this.#nodes.forEach((n, idx) => {
      const base = crc32(n.addr.replaceAll(":", "\0"));
      let last = 0;
      for (let i = 0; i < (n.weight / g) * POINTS_PER_WEIGHT; i++) {
        prev.writeUInt32LE(last, 0);
        last = crc32(prev, base);
        points.push({ hash: last, owner: idx });
      }
    });
    points.sort((a, b) => a.hash - b.hash || a.owner - b.owner);
    this.#hashes = Uint32Array.from(points, (p) => p.hash);
    this.#owner = Uint32Array.from(points, (p) => p.owner);
  }

  /** Index of the first point whose hash is >= h (0 after the last). */
  #find(h: number): number {
    const a = this.#hashes;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((a[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === a.length ? 0 : lo;
  }

  pick(ctx: PickContext, usable: Usable): UpstreamNode | undefined {
    const n = this.#hashes.length;
    if (n === 0) return undefined;
    const start = this.#find(crc32(this.#key(ctx)));
    // Walk the whole ring if need be: a usable light node may sit behind many points of heavy unusable ones
    // (weights 100:1 with the heavy node down put ~500 of its points in a row somewhere on the ring).
    for (let i = 0; i < n; i++) {
      const node = this.#nodes[this.#owner[(start + i) % n] as number] as UpstreamNode;
      if (usable(node)) return node;
    }
    return undefined;
  }

  report(): void { /* stateless on outcomes */ }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A stream variable a chash key can name (APISIX's ctx.var for the stream subsystem); undefined = nil in Lua. */
function streamVar(name: string, ctx: PickContext): string | undefined {
  switch (name) {
    case 'remote_addr': return ctx.remoteAddr;
    case 'remote_port': return String(ctx.remotePort);
    case 'server_addr': return ctx.serverAddr;
    case 'server_port': return String(ctx.serverPort);
    case 'server_name': return ctx.sni;
    case 'mqtt_client_id': return ctx.mqttClientId;
    default: return undefined;
  }
}

/** APISIX's core.utils.resolve_var pattern: `$name` or `${name}`, name = \w+, not after a backslash. */
const VAR_PATTERN = /(?<!\\)\$(?:\{(\w+)\}|(\w+))/g;

/**
 * The key function for an upstream's `hash_on` / `key` (compiled once per snapshot), as APISIX's
 * fetch_chash_hash_key for stream:
 * - hash_on `vars` (the default): the variable `key` — `remote_addr`, `remote_port`, `server_addr`, `server_port`,
 *   `server_name` (SNI), `mqtt_client_id`;
 * - hash_on `vars_combinations`: a template like `$remote_addr$remote_port` (or `${remote_addr}-x`); variables that do
 *   not resolve become '', and a template in which no variable resolved counts as unresolved;
 * - anything else (header, cookie, consumer have no value in a stream session) is unresolved.
 * An unresolved key falls back to remote_addr (APISIX's rule).
 */
export function chashKey(hashOn: string, key: string | undefined): (ctx: PickContext) => string {
  if (key === undefined || key === '') return (ctx) => ctx.remoteAddr;
  if (hashOn === 'vars_combinations') {
    // literal text and variable names alternate: [lit, var, lit, var, ..., lit]
    const parts: string[] = [];
    let last = 0;
    for (const m of key.matchAll(VAR_PATTERN)) {
      parts.push(key.slice(last, m.index), m[1] ?? m[2] ?? '');
      last = m.index + m[0].length;
    }
    parts.push(key.slice(last));
    if (parts.length === 1) return (ctx) => ctx.remoteAddr;
    return (ctx) => {
      let out = parts[0] as string;
      let resolved = 0;
      for (let i = 1; i < parts.length; i += 2) {
        const v = streamVar(parts[i] as string, ctx);
        if (v !== undefined) {
          resolved++;
          out += v;
        }
        out += parts[i + 1] as string;
      }
      return resolved === 0 ? ctx.remoteAddr : out;
    };
  }
  if (hashOn !== 'vars') return (ctx) => ctx.remoteAddr;
  return (ctx) => streamVar(key, ctx) ?? ctx.remoteAddr;
}
