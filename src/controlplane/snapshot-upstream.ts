// An upstream object as the data plane's UpstreamConf, as a pure function of explicit inputs: the DNS answers in
// force, the node slots allocated, the keyring and the client-certificate SSLs. Problems come back as values.
// UpstreamMemo keeps the result while its inputs stay the same (the very same object: the primary sends workers only
// the upstreams whose object changed, and a write costs the changed item, not the whole config).
import { isIP } from 'node:net';
import { idOf, splitNodeKey } from '../lib/addr.ts';
import { deepFreeze } from '../lib/freeze.ts';
import type { Keyring } from '../lib/keyring.ts';
import type { NodeConf, UpstreamConf, UpstreamTlsConf } from '../model/snapshot.ts';
import { isJsonObject, type JsonObject, type StoreItem } from './store/store.ts';

export const DEFAULT_TIMEOUT = { connect: 60, send: 600, read: 600 } as const;

/** Something skipped or unresolved, for the log: the item's key and what is wrong. */
export interface Problem {
  readonly key: string;
  readonly msg: string;
}

export type RawNode = Omit<NodeConf, 'ip' | 'slot'>;

export interface UpstreamInputs {
  /** DNS answers for domain nodes (a host without one has no IP yet). */
  readonly ips: ReadonlyMap<string, string>;
  /** Node slots in the shared node table by slotKey(); a node without one counts on slot 0 (shared, never read). */
  readonly slots: ReadonlyMap<string, number>;
  readonly keyring: Keyring;
  /** Validated SSL items by id, for an upstream's tls.client_cert_id. */
  readonly ssls: ReadonlyMap<string, { readonly item: StoreItem; readonly value: JsonObject }>;
}

/** The shared node table's key of one node of one upstream (stable while the pair exists). */
export const slotKey = (upstreamKey: string, n: RawNode): string => `${upstreamKey}|${n.host}|${n.port}`;

function scheme(v: unknown): 'tcp' | 'tls' | 'udp' {
  if (v === 'tls' || v === 'https' || v === 'grpcs') return 'tls';
  if (v === 'udp') return 'udp';
  return 'tcp'; // APISIX: `http` (the schema default) means plain TCP in the stream subsystem
}

/** Nodes of an upstream in both APISIX forms; nodes that cannot be used are reported through `bad`. */
export function normalizeNodes(nodes: unknown, bad: (why: string) => void): RawNode[] {
  const out: RawNode[] = [];
  if (Array.isArray(nodes)) {
    for (const n of nodes) {
      if (!isJsonObject(n) || typeof n.host !== 'string') continue;
      const port = typeof n.port === 'number' ? n.port : undefined;
      if (port === undefined) { bad(`node ${n.host} has no port`); continue; }
      const host = n.host.startsWith('[') && n.host.endsWith(']') ? n.host.slice(1, -1) : n.host;
      out.push({ host, port, weight: typeof n.weight === 'number' ? n.weight : 1, priority: typeof n.priority === 'number' ? n.priority : 0 });
    }
  } else if (isJsonObject(nodes)) {
    for (const [addr, w] of Object.entries(nodes)) {
      const p = splitNodeKey(addr);
      if (p === undefined || p.port === undefined || p.port < 1 || p.port > 65535) { bad(`node ${addr} has no valid port`); continue; }
      out.push({ host: p.host, port: p.port, weight: typeof w === 'number' ? w : 1, priority: 0 });
    }
  }
  return out;
}

/** An upstream object's nodes, and the problems with the ones left out. */
export function upstreamNodes(key: string, up: JsonObject): { nodes: RawNode[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const nodes = normalizeNodes(up.nodes, (why) => problems.push({ key, msg: `upstream ${key}: ${why}` }));
  return { nodes, problems };
}

/** An upstream object under its snapshot key as an UpstreamConf (frozen). */
export function upstreamConf(key: string, up: JsonObject, inputs: UpstreamInputs): { conf: UpstreamConf; problems: Problem[] } {
  const { nodes: raw, problems } = upstreamNodes(key, up);
  const nodes = raw.map((n): NodeConf => ({ ...n, ip: isIP(n.host) !== 0 ? n.host : inputs.ips.get(n.host), slot: inputs.slots.get(slotKey(key, n)) ?? 0 }));
  const t = isJsonObject(up.timeout) ? up.timeout : undefined;
  const num = (v: unknown, d: number): number => (typeof v === 'number' && v > 0 ? v : d);
  const conf: Omit<UpstreamConf, 'version'> = {
    key,
    type: typeof up.type === 'string' ? up.type : 'roundrobin',
    nodes,
    scheme: scheme(up.scheme),
    hashOn: typeof up.hash_on === 'string' ? up.hash_on : 'vars',
    hashKey: typeof up.key === 'string' ? up.key : undefined,
    retries: typeof up.retries === 'number' ? up.retries : undefined,
    retryTimeout: typeof up.retry_timeout === 'number' ? up.retry_timeout : undefined,
    timeout: {
      connect: num(t?.connect, DEFAULT_TIMEOUT.connect),
      send: num(t?.send, DEFAULT_TIMEOUT.send),
      read: num(t?.read, DEFAULT_TIMEOUT.read),
    },
    timeoutSet: t !== undefined,
    tls: upstreamTls(key, up.tls, inputs, problems),
    checks: isJsonObject(up.checks) ? up.checks : undefined,
  };
  return { conf: deepFreeze({ ...conf, version: JSON.stringify(conf) }), problems };
}

/** A private key as stored, decrypted; undefined (and a problem) when no key of the keyring opens it. */
export function decryptKey(from: string, v: unknown, keyring: Keyring, problems: Problem[]): string | undefined {
  if (typeof v !== 'string') return undefined;
  const plain = keyring.decrypt(v);
  if (plain === undefined) problems.push({ key: from, msg: `${from}: cannot decrypt a private key with any key of apisix.data_encryption.keyring` });
  return plain;
}

/** An upstream's `tls`: inline client cert/key, or the `type: client` SSL named by client_cert_id. */
function upstreamTls(key: string, tls: unknown, inputs: UpstreamInputs, problems: Problem[]): UpstreamTlsConf | undefined {
  if (!isJsonObject(tls)) return undefined;
  let cert = typeof tls.client_cert === 'string' ? tls.client_cert : undefined;
  let pkey = decryptKey(key, tls.client_key, inputs.keyring, problems);
  if (tls.client_cert_id !== undefined && tls.client_cert_id !== null) {
    const id = idOf(tls.client_cert_id);
    const ssl = inputs.ssls.get(id)?.value;
    if (ssl === undefined || ssl.type !== 'client') {
      problems.push({ key, msg: `upstream ${key}: client_cert_id ${id} is not an SSL of type client` });
    } else {
      cert = typeof ssl.cert === 'string' ? ssl.cert : undefined;
      pkey = decryptKey(`ssls/${id}`, ssl.key, inputs.keyring, problems);
    }
  }
  return { clientCert: cert, clientKey: pkey, verify: tls.verify === true };
}

/**
 * upstreamConf's results by key, reused while the upstream object (by identity: validated values are frozen and
 * kept), its domains' answers, its nodes' slots and its client SSL stay the same. A cache only: a hit is what
 * upstreamConf would return, the very same object.
 */
export class UpstreamMemo {
  readonly #byKey = new Map<string, { src: JsonObject; sig: string; conf: UpstreamConf; problems: Problem[] }>();
  readonly #nodes = new WeakMap<JsonObject, { nodes: RawNode[]; problems: Problem[] }>();

  /** upstreamNodes, once per object. */
  nodes(key: string, up: JsonObject): RawNode[] {
    let hit = this.#nodes.get(up);
    if (hit === undefined) {
      hit = upstreamNodes(key, up);
      this.#nodes.set(up, hit);
    }
    return hit.nodes;
  }

  conf(key: string, up: JsonObject, inputs: UpstreamInputs): { conf: UpstreamConf; problems: Problem[] } {
    let sig = '';
    for (const n of this.nodes(key, up)) {
      sig += `${inputs.slots.get(slotKey(key, n)) ?? 0},`;
      if (isIP(n.host) === 0) sig += `${n.host}=${inputs.ips.get(n.host) ?? '?'},`;
    }
    const tls = isJsonObject(up.tls) ? up.tls : undefined;
    if (tls?.client_cert_id !== undefined && tls.client_cert_id !== null) {
      sig += `|ssl@${inputs.ssls.get(idOf(tls.client_cert_id))?.item.modifiedIndex ?? 0}`;
    }
    const hit = this.#byKey.get(key);
    if (hit !== undefined && hit.src === up && hit.sig === sig) return hit;
    const r = upstreamConf(key, up, inputs);
    this.#byKey.set(key, { src: up, sig, ...r });
    return r;
  }

  /** Forgets the keys a snapshot no longer has. */
  retain(keys: Readonly<Record<string, unknown>>): void {
    for (const k of this.#byKey.keys()) if (!(k in keys)) this.#byKey.delete(k);
  }

  clear(): void {
    this.#byKey.clear();
  }
}
