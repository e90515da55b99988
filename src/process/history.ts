// GET /sluice/v1/history?key=/apisix/<res>/<id>&limit=N (CONTRACT §7, issue 16): the kept revisions of one resource,
// or without `key` the latest revisions of every resource, newest first. Values are shown as the Admin API shows them
// (its `present` hooks: private keys never appear). The embedded store keeps the history (its history table, the
// newest 10,000 revisions); the etcd and yaml stores answer a clear 400 until theirs is built.
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import { adminError } from '../controlplane/admin/errors.ts';
import { resourceDefs } from '../controlplane/admin/index.ts';
import type { ResourceDef } from '../controlplane/admin/resource.ts';
import type { Keyring } from '../lib/keyring.ts';
import type { ConfigStore } from '../controlplane/store/store.ts';
import { queryLimit, unknownParam } from './query.ts';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

function bad(reason: string): never {
  throw adminError('INVALID_HISTORY_QUERY', { reason });
}

export function historyRoute(store: ConfigStore, prefix: string, keyring: Keyring): ExtraRoute {
  const defs = new Map<string, ResourceDef>(resourceDefs(keyring).map((d) => [d.name, d]));
  /** The resource a store key belongs to, if it is one of the Admin API's. */
  const resourceOf = (key: string): ResourceDef | undefined => {
    if (!key.startsWith(`${prefix}/`)) return undefined;
    const rest = key.slice(prefix.length + 1).split('/');
    return rest.length === 2 && rest[1] !== '' ? defs.get(rest[0] ?? '') : undefined;
  };
  return {
    method: 'GET',
    path: '/sluice/v1/history',
    async handle(req) {
      const q = req.url.searchParams;
      const unknown = unknownParam(q, ['key', 'limit']);
      if (unknown !== undefined) bad(`unknown parameter ${unknown} (known: key, limit)`);
      const key = q.get('key') ?? undefined;
      if (key !== undefined && resourceOf(key) === undefined) {
        bad(`key must name a resource, ${prefix}/<${[...defs.keys()].join('|')}>/<id>`);
      }
      const l = queryLimit(q, DEFAULT_LIMIT, MAX_LIMIT);
      const limit = typeof l === 'number' ? l : bad(l.problem);
      if (store.history === undefined) throw adminError('HISTORY_UNAVAILABLE', { store: store.kind });
      const entries = await store.history(prefix, key, limit);
      const list = entries.flatMap((e) => {
        const def = resourceOf(e.key);
        if (def === undefined) return []; // not a resource (nothing else is kept under the prefix today)
        const value = e.value === null ? null : def.present ? def.present(e.value) : e.value;
        return [{ revision: e.revision, key: e.key, action: e.action, time: e.time, value }];
      });
      return { status: 200, body: { list } };
    },
  };
}
