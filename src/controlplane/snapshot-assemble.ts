// Building a snapshot from the validated items, as a pure function (issue 14): references resolved (a route's
// upstream_id, inline upstream, its service's; traffic-split's upstreams), upstreams, routes and SSLs turned into the
// data plane's shapes, problems returned as values. Its inputs are explicit: the DNS answers, the node slots and the
// keyring. What is not pure stays in the builder (snapshot.ts): following the store, caching validations, waiting on
// DNS, allocating the slots (for the keys upstreamSources names) and logging the problems.
import { idOf } from '../lib/addr.ts';
import { deepFreeze } from '../lib/freeze.ts';
import type { RouteConf, SnapshotData, SslConf, TlsProtocol, UpstreamConf } from '../model/snapshot.ts';
import { inlineSplitUpstreams, mergedPlugins, splitUpstreamIds } from './plugin-confs.ts';
import { decryptKey, upstreamConf, type Problem, type UpstreamInputs, type UpstreamMemo } from './snapshot-upstream.ts';
import { isJsonObject, type JsonObject, type StoreItem } from './store/store.ts';

/** Validated items of one resource by id. */
export type Items = ReadonlyMap<string, { readonly item: StoreItem; readonly value: JsonObject }>;

/** The items, and what turning upstreams into confs needs (DNS answers, node slots, keyring; ssls for client certs). */
export interface AssembleInput extends UpstreamInputs {
  readonly version: number;
  readonly upstreams: Items;
  readonly services: Items;
  readonly routes: Items;
  readonly metadata: Items;
  readonly streamPlugins: readonly string[];
  readonly tls: SnapshotData['tls'];
  /** A cache of upstream confs (the result is the same with or without it; with it, unchanged ones are the same objects). */
  readonly memo?: UpstreamMemo;
}

/**
 * Every upstream object the snapshot can hold, under its snapshot key: the builder resolves their domains and
 * allocates their nodes' slots before assembling. The keys are the ones assembleSnapshot gives them.
 */
export function upstreamSources(input: Pick<AssembleInput, 'upstreams' | 'services' | 'routes'>): [key: string, up: JsonObject][] {
  const out: [string, JsonObject][] = [];
  for (const [id, { value }] of input.upstreams) out.push([`upstreams/${id}`, value]);
  for (const [id, { value }] of input.services) if (isJsonObject(value.upstream)) out.push([`services/${id}`, value.upstream]);
  for (const [id, { value }] of input.routes) {
    if (isJsonObject(value.upstream)) out.push([`stream_routes/${id}`, value.upstream]);
    const svc = value.service_id !== undefined ? input.services.get(idOf(value.service_id))?.value : undefined;
    for (const [i, up] of inlineSplitUpstreams(mergedPlugins(svc, value))) out.push([`stream_routes/${id}#traffic-split/${i}`, up]);
  }
  return out;
}

export function assembleSnapshot(input: AssembleInput): { snapshot: SnapshotData; problems: Problem[] } {
  const { upstreams, services, routes, metadata } = input;
  const problems: Problem[] = [];
  const ctx = {
    problem: (key: string, msg: string): void => { problems.push({ key, msg }); },
    upstream: (key: string, up: JsonObject): UpstreamConf => {
      const r = input.memo !== undefined ? input.memo.conf(key, up, input) : upstreamConf(key, up, input);
      problems.push(...r.problems);
      return r.conf;
    },
  };
  const outUps: Record<string, UpstreamConf> = {};
  const useUpstreamId = (id: string, from: string): string | undefined => {
    const key = `upstreams/${id}`;
    const u = upstreams.get(id);
    if (u === undefined) {
      ctx.problem(from, `${from} refers to upstream ${id}, which does not exist`);
      return undefined;
    }
    outUps[key] ??= ctx.upstream(key, u.value);
    return key;
  };
  const outRoutes: RouteConf[] = [];
  for (const [id, { item, value: r }] of routes) {
    const from = `stream_routes/${id}`;
    let svc: JsonObject | undefined;
    const serviceId = r.service_id !== undefined ? idOf(r.service_id) : undefined;
    if (serviceId !== undefined) {
      svc = services.get(serviceId)?.value;
      if (svc === undefined) ctx.problem(from, `${from} refers to service ${serviceId}, which does not exist`);
    }
    let upstreamKey: string | undefined;
    if (r.upstream_id !== undefined) {
      upstreamKey = useUpstreamId(idOf(r.upstream_id), from);
    } else if (isJsonObject(r.upstream)) {
      upstreamKey = from;
      outUps[from] = ctx.upstream(from, r.upstream);
    } else if (svc !== undefined && svc.upstream_id !== undefined) {
      upstreamKey = useUpstreamId(idOf(svc.upstream_id), `services/${serviceId}`);
    } else if (svc !== undefined && isJsonObject(svc.upstream)) {
      upstreamKey = `services/${serviceId}`;
      outUps[upstreamKey] ??= ctx.upstream(upstreamKey, svc.upstream);
    }
    const plugins = mergedPlugins(svc, r);
    // traffic-split's weighted upstreams, resolved to snapshot keys like the route's own
    const pluginUpstreams: Record<string, string> = {};
    for (const [i, up] of inlineSplitUpstreams(plugins)) {
      const key = `${from}#traffic-split/${i}`;
      outUps[key] = ctx.upstream(key, up);
      pluginUpstreams[i] = key;
    }
    for (const [i, upId] of splitUpstreamIds(plugins)) {
      pluginUpstreams[i] = useUpstreamId(upId, from) ?? `upstreams/${upId}`;
    }
    const remote: string[] = [];
    if (typeof r.remote_addr === 'string') remote.push(r.remote_addr);
    if (Array.isArray(r.remote_addrs)) for (const a of r.remote_addrs) if (typeof a === 'string') remote.push(a);
    const snis: string[] = [];
    if (typeof r.sni === 'string') snis.push(r.sni.toLowerCase());
    if (Array.isArray(r.snis)) for (const s of r.snis) if (typeof s === 'string') snis.push(s.toLowerCase());
    outRoutes.push({
      id,
      createdIndex: item.createdIndex,
      name: typeof r.name === 'string' ? r.name : undefined,
      remoteAddrs: remote,
      serverAddr: typeof r.server_addr === 'string' ? r.server_addr : undefined,
      serverPort: typeof r.server_port === 'number' ? r.server_port : undefined,
      snis,
      tlsPassthrough: r.tls_passthrough === true,
      plugins,
      pluginUpstreams,
      upstreamKey,
      serviceId,
    });
  }
  // Upstreams no route uses are in the snapshot too: their health checkers run from the moment they exist.
  for (const id of upstreams.keys()) useUpstreamId(id, `upstreams/${id}`);
  outRoutes.sort((a, b) => a.createdIndex - b.createdIndex);
  const snapshot = deepFreeze({
    version: input.version, routes: outRoutes, upstreams: outUps, ssls: sslConfs(input, problems),
    streamPlugins: input.streamPlugins,
    pluginMetadata: Object.fromEntries([...metadata].map(([name, { value }]) => [name, value])),
    tls: input.tls,
  });
  return { snapshot, problems };
}

function sslConfs(input: AssembleInput, problems: Problem[]): SslConf[] {
  const out: SslConf[] = [];
  for (const [id, { value: v }] of input.ssls) {
    if (v.type === 'client' || v.status === 0) continue;
    const from = `ssls/${id}`;
    const certs = [v.cert, ...(Array.isArray(v.certs) ? v.certs : [])].filter((c): c is string => typeof c === 'string');
    const keys = [v.key, ...(Array.isArray(v.keys) ? v.keys : [])].map((k) => decryptKey(from, k, input.keyring, problems));
    if (keys.some((k) => k === undefined) || keys.length !== certs.length) {
      problems.push({ key: from, msg: `${from}: skipped: its certificates and keys do not pair up` });
      continue;
    }
    const snis = [...(typeof v.sni === 'string' ? [v.sni] : []), ...(Array.isArray(v.snis) ? v.snis.filter((x): x is string => typeof x === 'string') : [])].map((x) => x.toLowerCase());
    const client = isJsonObject(v.client) ? v.client : undefined;
    const conf: Omit<SslConf, 'version'> = {
      id, snis, certs, keys: keys as string[],
      clientCa: typeof client?.ca === 'string' ? client.ca : undefined,
      clientDepth: typeof client?.depth === 'number' ? client.depth : 1,
      protocols: Array.isArray(v.ssl_protocols) ? v.ssl_protocols.filter((x): x is TlsProtocol => x === 'TLSv1.1' || x === 'TLSv1.2' || x === 'TLSv1.3') : [],
    };
    out.push({ ...conf, version: JSON.stringify(conf) });
  }
  return out;
}
