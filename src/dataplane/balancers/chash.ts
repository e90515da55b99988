// Consistent hashing compatible with APISIX (lua-resty-balancer's chash, itself nginx's): each node gets
// 160 × weight points on a CRC32 ring; a node's id is `host\0port` (APISIX replaces ':' with '\0'); point i's hash
// continues the CRC32 of the id over the previous point's hash (4 bytes, little-endian), starting from 0. A key hashes
// with CRC32 and takes the first point at or after it (wrapping). On a retry the walk goes on clockwise to the next
// point of a node still usable. Changing one node's weight or removing it moves only the keys of its own points.
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
    const points: { hash: number; owner: number }[] = [];
    const prev = Buffer.alloc(4);
    this.#nodes.forEach((n, idx) => {
      const base = crc32(n.addr.replaceAll(":", "\0"));
      let last = 0;
      for (let i = 0; i < n.weight * POINTS_PER_WEIGHT; i++) {
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
    let seen = 0;
    for (let i = 0; i < n && seen < this.#nodes.length * POINTS_PER_WEIGHT; i++) {
      const node = this.#nodes[this.#owner[(start + i) % n] as number] as UpstreamNode;
      if (usable(node)) return node;
      seen++;
    }
    return undefined;
  }

  report(): void { /* stateless on outcomes */ }
}

/**
 * The key function for an upstream's `hash_on` / `key`: `remote_addr`, `remote_port`, `server_addr`, `server_port`,
 * `server_name` (SNI), `mqtt_client_id`, or with hash_on `vars_combinations` a template like `$remote_addr$remote_port`.
 * A key that resolves to nothing falls back to remote_addr (APISIX's rule).
 */
export function chashKey(hashOn: string, key: string | undefined): (ctx: PickContext) => string {
  const one = (name: string, ctx: PickContext): string | undefined => {
    switch (name) {
      case 'remote_addr': return ctx.remoteAddr;
      case 'remote_port': return String(ctx.remotePort);
      case 'server_addr': return ctx.serverAddr;
      case 'server_port': return String(ctx.serverPort);
      case 'server_name': return ctx.sni;
      case 'mqtt_client_id': return ctx.mqttClientId;
      default: return undefined;
    }
  };
  if (key === undefined || key === '') return (ctx) => ctx.remoteAddr;
  if (hashOn === 'vars_combinations') {
    const parts = key.split(/(\$[a-z_]+)/).filter((p) => p !== '');
    return (ctx) => {
      let out = '';
      for (const p of parts) out += p.startsWith('$') ? (one(p.slice(1), ctx) ?? '') : p;
      return out === '' ? ctx.remoteAddr : out;
    };
  }
  return (ctx) => {
    const v = one(key, ctx);
    return v === undefined || v === '' ? ctx.remoteAddr : v;
  };
}
