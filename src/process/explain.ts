// POST /sluice/v1/explain (CONTRACT §4): which route a connection would take, and why — answered by a data-plane
// worker from the very tables it matches with.
import { isIP } from 'node:net';
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import { adminError } from '../controlplane/admin/errors.ts';
import type { ExplainQuery } from '../model/messages.ts';
import type { WorkerPool } from './workers.ts';

const PROTOCOLS = new Set(['tcp', 'udp', 'tls', 'tls_passthrough']);

function bad(reason: string): never {
  throw adminError('INVALID_EXPLAIN', { reason });
}

export function explainRoute(pool: WorkerPool): ExtraRoute {
  return {
    method: 'POST',
    path: '/sluice/v1/explain',
    async handle(req) {
      const { body } = await req.readBody();
      if (body === null || typeof body !== 'object' || Array.isArray(body)) bad('the body must be a JSON object');
      const b = body as Record<string, unknown>;
      const protocol = b.protocol ?? 'tcp';
      if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) bad('protocol must be one of tcp, udp, tls, tls_passthrough');
      if (typeof b.remote_addr !== 'string' || isIP(b.remote_addr) === 0) bad('remote_addr must be an IP address');
      if (typeof b.server_addr !== 'string' || isIP(b.server_addr) === 0) bad('server_addr must be an IP address');
      if (typeof b.server_port !== 'number' || !Number.isInteger(b.server_port) || b.server_port < 1 || b.server_port > 65535) bad('server_port must be an integer in 1-65535');
      const rp = b.remote_port ?? 0;
      if (typeof rp !== 'number' || !Number.isInteger(rp) || rp < 0 || rp > 65535) bad('remote_port must be an integer in 0-65535');
      if (b.sni !== undefined && b.sni !== null && typeof b.sni !== 'string') bad('sni must be a string');
      const query: ExplainQuery = {
        protocol: protocol as ExplainQuery['protocol'],
        remote_addr: b.remote_addr, remote_port: rp, server_addr: b.server_addr, server_port: b.server_port,
        sni: typeof b.sni === 'string' && b.sni !== '' ? b.sni : undefined,
      };
      const res = await pool.explain(query);
      if (res === undefined) throw adminError('STORE_UNAVAILABLE', { reason: 'no data-plane worker answered' });
      return { status: 200, body: res };
    },
  };
}
