// Resolves upstream node domains for the snapshot builder, so the data plane only ever dials IPs.
// - `apisix.dns_resolver` empty: the system resolver (getaddrinfo: /etc/hosts, then DNS), cached DEFAULT_TTL_S.
// - otherwise: /etc/hosts first, then those servers, cached for the record's TTL.
// A failure is cached NEGATIVE_TTL_S; a change of answer (or of resolvability) is reported through onChange, which
// the builder turns into a new snapshot — and logged once per change, never per connection.
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { lookup, Resolver } from 'node:dns/promises';
import type { Logger } from '../observe/log.ts';

export const DEFAULT_TTL_S = 30;
export const NEGATIVE_TTL_S = 5;
const MIN_TTL_S = 1;
const MAX_ENTRIES = 10_000;
const RESOLVE_TIMEOUT_MS = 3_000;

interface Entry {
  ip: string | undefined;
  expires: number;
  error: string | undefined;
}

export interface DnsOptions {
  /** `IP` or `IP:PORT` entries of apisix.dns_resolver; empty = system resolver. */
  readonly servers: readonly string[];
  readonly log: Logger;
  readonly onChange: () => void;
  readonly hostsFile?: string;
  readonly now?: () => number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e instanceof Error ? e : new Error(String(e))); });
  });
}

export class DnsCache {
  readonly #opts: DnsOptions;
  readonly #cache = new Map<string, Entry>();
  readonly #resolver: Resolver | undefined;
  readonly #now: () => number;
  #hosts = new Map<string, string>();
  #hostsMtime = -1;
  #timer: NodeJS.Timeout | undefined;
  /** Hosts the current snapshot uses; only these are refreshed. */
  #wanted = new Set<string>();

  constructor(opts: DnsOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    if (opts.servers.length > 0) {
      this.#resolver = new Resolver({ timeout: 2000, tries: 2 });
      this.#resolver.setServers([...opts.servers]); // `IP`, `IP:PORT`, `[v6]:PORT`, as Node takes them
    }
    this.#timer = setInterval(() => { this.#refresh().catch(() => { /* logged per host */ }); }, 1000);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** The cached address of a host (IPs map to themselves); undefined when unknown or unresolvable. */
  get(host: string): string | undefined {
    if (isIP(host) !== 0) return host;
    return this.#cache.get(host.toLowerCase())?.ip;
  }

  /** Resolves every host not yet cached; resolves when done (errors are cached, not thrown). */
  async prepare(hosts: Iterable<string>): Promise<void> {
    const todo: string[] = [];
    const wanted = new Set<string>();
    for (const h of hosts) {
      if (isIP(h) !== 0) continue;
      const k = h.toLowerCase();
      wanted.add(k);
      if (!this.#cache.has(k)) todo.push(k);
    }
    this.#wanted = wanted;
    await Promise.all(todo.map((h) => this.#resolve(h)));
  }

  #readHosts(): void {
    const file = this.#opts.hostsFile ?? '/etc/hosts';
    try {
      const st = statSync(file);
      if (st.mtimeMs === this.#hostsMtime) return;
      this.#hostsMtime = st.mtimeMs;
      const m = new Map<string, string>();
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const parts = line.replace(/#.*/, '').trim().split(/\s+/);
        const ip = parts[0];
        if (ip === undefined || isIP(ip) === 0) continue;
        for (const name of parts.slice(1)) if (!m.has(name.toLowerCase())) m.set(name.toLowerCase(), ip);
      }
      this.#hosts = m;
    } catch {
      this.#hosts = new Map();
    }
  }

  async #query(host: string): Promise<{ ip: string; ttl: number }> {
    if (this.#resolver === undefined) {
      // IPv4 first, as APISIX's resolver (A before AAAA): with `::1 localhost` listed, `localhost:1995` must still reach
      // a server on 127.0.0.1.
      const r = await withTimeout(lookup(host, { order: 'ipv4first' }), RESOLVE_TIMEOUT_MS, `resolving ${host}`);
      return { ip: r.address, ttl: DEFAULT_TTL_S };
    }
    this.#readHosts();
    const fromHosts = this.#hosts.get(host);
    if (fromHosts !== undefined) return { ip: fromHosts, ttl: DEFAULT_TTL_S };
    try {
      const a = await withTimeout(this.#resolver.resolve4(host, { ttl: true }), RESOLVE_TIMEOUT_MS, `resolving ${host}`);
      if (a[0] !== undefined) return { ip: a[0].address, ttl: a[0].ttl };
    } catch (err) {
      const aaaa = await withTimeout(this.#resolver.resolve6(host, { ttl: true }), RESOLVE_TIMEOUT_MS, `resolving ${host}`).catch(() => []);
      if (aaaa[0] !== undefined) return { ip: aaaa[0].address, ttl: aaaa[0].ttl };
      throw err;
    }
    throw new Error(`no address for ${host}`);
  }

  async #resolve(host: string): Promise<void> {
    const before = this.#cache.get(host);
    let next: Entry;
    try {
      const { ip, ttl } = await this.#query(host);
      next = { ip, expires: this.#now() + Math.max(MIN_TTL_S, ttl) * 1000, error: undefined };
    } catch (err) {
      const msg = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      next = { ip: undefined, expires: this.#now() + NEGATIVE_TTL_S * 1000, error: msg };
    }
    if (this.#cache.size >= MAX_ENTRIES && before === undefined) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(host, next);
    if (before === undefined || before.ip !== next.ip) {
      if (next.ip === undefined) this.#opts.log.warn({ host, error: next.error }, 'upstream node domain does not resolve; its node is not used');
      else if (before !== undefined) this.#opts.log.info({ host, ip: next.ip, was: before.ip }, 'upstream node domain resolves to a new address');
      if (before !== undefined) this.#opts.onChange();
    }
  }

  async #refresh(): Promise<void> {
    const now = this.#now();
    const due = [...this.#wanted].filter((h) => (this.#cache.get(h)?.expires ?? 0) <= now);
    await Promise.all(due.map((h) => this.#resolve(h)));
  }
}
