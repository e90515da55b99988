// The connections API (CONTRACT §7): GET /sluice/v1/connections lists every worker's live sessions (filters, limit);
// DELETE /sluice/v1/connections/{id} ends one, DELETE /sluice/v1/connections?filter ends every match. Viewers may
// list; a DELETE needs the admin key (the Admin API's role check, server.ts). The workers filter and end their own
// sessions; this file checks the query and merges the answers.
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import { adminError } from '../controlplane/admin/errors.ts';
import { CidrSet } from '../lib/cidr.ts';
import { connectionWorker, type ConnectionFilter } from '../model/messages.ts';
import { queryLimit, unknownParam } from './query.ts';
import type { WorkerPool } from './workers.ts';

const PATH = '/sluice/v1/connections';
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

function bad(reason: string): never {
  throw adminError('INVALID_CONNECTIONS_QUERY', { reason });
}

const FILTERS = ['route_id', 'remote_addr', 'node', 'protocol'] as const;

/** The filters of a query string (route_id, remote_addr, node, protocol), checked; `more`: the other names allowed. */
function filterOf(q: URLSearchParams, more: readonly string[] = []): ConnectionFilter {
  const unknown = unknownParam(q, [...FILTERS, ...more]);
  if (unknown !== undefined) bad(`unknown parameter ${unknown} (known: ${[...FILTERS, ...more].join(', ')})`);
  const one = (name: string): string | undefined => {
    const all = q.getAll(name);
    if (all.length > 1) bad(`${name} is given more than once`);
    if (all[0] === '') bad(`${name} is empty`);
    return all[0];
  };
  const routeId = one('route_id');
  const remoteAddr = one('remote_addr');
  const node = one('node');
  const protocol = one('protocol');
  if (remoteAddr !== undefined) {
    try { CidrSet.parse([remoteAddr]); } catch { bad('remote_addr must be an IP address or a CIDR'); }
  }
  if (protocol !== undefined && protocol !== 'tcp' && protocol !== 'udp') bad('protocol must be tcp or udp');
  return { routeId, remoteAddr, node, protocol };
}

function limitOf(q: URLSearchParams): number {
  const l = queryLimit(q, DEFAULT_LIMIT, MAX_LIMIT);
  return typeof l === 'number' ? l : bad(l.problem);
}

export function connectionsRoutes(pool: WorkerPool): ExtraRoute[] {
  return [
    {
      method: 'GET',
      path: PATH,
      async handle(req) {
        const filter = filterOf(req.url.searchParams, ['limit']);
        const limit = limitOf(req.url.searchParams);
        const { total, text } = await pool.connections(filter, limit);
        // the workers' JSON texts (model/messages.ts), joined, not parsed and encoded again
        return { status: 200, body: `{"total":${total},"list":[${text}]}`, contentType: 'application/json' };
      },
    },
    {
      method: 'DELETE',
      path: PATH,
      prefix: true,
      async handle(req) {
        const rest = req.url.pathname.slice(PATH.length + 1);
        if (rest !== '') {
          let id: string;
          try { id = decodeURIComponent(rest); } catch { throw adminError('CONNECTION_NOT_FOUND'); }
          if (connectionWorker(id) === undefined || (await pool.killConnections({ id })) === 0) throw adminError('CONNECTION_NOT_FOUND');
          return { status: 200, body: { deleted: id } };
        }
        const filter = filterOf(req.url.searchParams);
        if (filter.routeId === undefined && filter.remoteAddr === undefined && filter.node === undefined) {
          bad('a DELETE names what to end: route_id, remote_addr or node');
        }
        return { status: 200, body: { deleted: await pool.killConnections(filter) } };
      },
    },
  ];
}
