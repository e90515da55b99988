// Parses apisix.stream_proxy.tcp|udp entries into ListenerSpecs, with APISIX's error texts.
// Forms: 9100 | "127.0.0.1:9101" | "[::1]:9101" | "2000-2005" | "127.0.0.1:2000-2005" |
// { addr, tls, proxy_protocol, proxy_protocol_to_upstream, proxy_protocol_to_upstream_version } (tcp only).
import { isIP } from 'node:net';
import type { ListenerSpec } from '../../model/config.ts';

/** A range entry may not expand to more listeners than this (each one is a bound socket per worker). */
export const MAX_PORTS_PER_ENTRY = 1024;

export class ListenerEntryError extends Error {
  override readonly name = 'ListenerEntryError';
  /** The key inside an object entry the problem is about, if any (for the line number). */
  readonly key: string | undefined;
  constructor(message: string, key?: string) {
    super(message);
    this.key = key;
  }
}

/** Lua's names for value types, which APISIX's messages use. */
function luaType(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'object') return 'table';
  return typeof v;
}

function checkPort(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ListenerEntryError(`port out of range (1-65535): ${n}`);
  return n;
}

interface Addr { host: string | null; ports: number[] }

function parsePortPart(part: string, whole: string): number[] {
  if (/^\d+$/.test(part)) return [checkPort(Number(part))];
  const m = /^(\d+)-(\d+)$/.exec(part);
  if (m === null) throw new ListenerEntryError(`invalid port format: ${whole}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  checkPort(start);
  checkPort(end);
  if (start > end) throw new ListenerEntryError(`invalid port range (start > end): ${whole}`);
  if (end - start + 1 > MAX_PORTS_PER_ENTRY) {
    throw new ListenerEntryError(`invalid port range (more than ${MAX_PORTS_PER_ENTRY} ports): ${whole}`);
  }
  const out: number[] = [];
  for (let p = start; p <= end; p++) out.push(p);
  return out;
}

function parseAddr(v: unknown): Addr {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ListenerEntryError(`invalid port format: ${v}`);
    return { host: null, ports: [checkPort(v)] };
  }
  if (typeof v !== 'string') throw new ListenerEntryError(`invalid port value type: ${luaType(v)}`);
  const s = v.trim();
  if (s === '') throw new ListenerEntryError(`missing port: ${v}`);
  let host: string | null = null;
  let portPart: string;
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(s);
    if (m === null) throw new ListenerEntryError(`invalid port format: ${v}`);
    if (m[2] === undefined || m[2] === '') throw new ListenerEntryError(`missing port: ${v}`);
    host = m[1] ?? '';
    if (isIP(host) !== 6) throw new ListenerEntryError(`invalid address: ${v}`);
    portPart = m[2];
  } else if (s.includes(':')) {
    const idx = s.lastIndexOf(':');
    host = s.slice(0, idx);
    portPart = s.slice(idx + 1);
    if (host.includes(':')) throw new ListenerEntryError(`missing port: ${v}`); // a bare IPv6 address
    if (portPart === '') throw new ListenerEntryError(`missing port: ${v}`);
    if (isIP(host) !== 4) throw new ListenerEntryError(`invalid address: ${v}`);
  } else {
    if (/^[\d.]+$/.test(s) && s.includes('.')) throw new ListenerEntryError(`missing port: ${v}`); // "127.0.0.1"
    portPart = s;
  }
  return { host, ports: parsePortPart(portPart, v) };
}

const OBJECT_KEYS = new Set(['addr', 'tls', 'proxy_protocol', 'proxy_protocol_to_upstream', 'proxy_protocol_to_upstream_version']);

function bool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ListenerEntryError(`${k} must be a boolean, got ${luaType(v)}`, k);
  return v;
}

/**
 * Parses one entry. Throws ListenerEntryError with the message APISIX uses after
 * `invalid stream_proxy.<proto> entry: ` (the caller adds that prefix, file, line and key path).
 */
export function parseListenerEntry(entry: unknown, proto: 'tcp' | 'udp', source: string): ListenerSpec[] {
  let addr: Addr;
  let tls = false;
  let pp = false;
  let ppUp = false;
  let ppVer: 1 | 2 = 1;
  if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
    if (proto === 'udp') throw new ListenerEntryError(`invalid port value type: table`);
    const o = entry as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!OBJECT_KEYS.has(k)) throw new ListenerEntryError(`unknown key: ${k}`, k);
    if (o.addr === undefined) throw new ListenerEntryError(`missing addr`);
    try {
      addr = parseAddr(o.addr);
    } catch (err) {
      if (err instanceof ListenerEntryError) throw new ListenerEntryError(err.message, 'addr');
      throw err;
    }
    tls = bool(o, 'tls');
    pp = bool(o, 'proxy_protocol');
    ppUp = bool(o, 'proxy_protocol_to_upstream');
    const ver = o.proxy_protocol_to_upstream_version;
    if (ver !== undefined) {
      if (ver !== 1 && ver !== 2) {
        throw new ListenerEntryError(`proxy_protocol_to_upstream_version must be 1 or 2, got ${JSON.stringify(ver)}`, 'proxy_protocol_to_upstream_version');
      }
      ppVer = ver;
    }
  } else {
    addr = parseAddr(entry);
  }
  return addr.ports.map((port) => ({
    proto, host: addr.host, port, tls, proxyProtocol: pp, proxyProtocolToUpstream: ppUp,
    proxyProtocolToUpstreamVersion: ppVer, source,
  }));
}

export { listenerAddr } from '../../lib/addr.ts';
