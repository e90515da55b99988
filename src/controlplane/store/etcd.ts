// Config store on a real etcd (v3), shared by several gateways, key layout compatible with APISIX:
// `<prefix>/<resource>/<id>` with APISIX's JSON values. Spoken over etcd's v3 JSON gateway (HTTP/1.1 + JSON,
// keys and values base64) with node:http(s): no gRPC stack to install, full control of TLS and timeouts, and the
// watch is one long streaming POST on the whole prefix.
// - createdIndex / modifiedIndex are the key's create_revision / mod_revision;
// - POST ids are the revision of a write to `<prefix>/gen_id` (APISIX's scheme: unique across gateways);
// - ttl uses a lease; compare-and-set uses a txn on mod_revision;
// - endpoints are tried in order, a failing one moves to the back (failover); every request has the
//   deployment.etcd.timeout deadline and fails with StoreUnavailableError;
// - the watch resumes from the last revision it saw; a compacted revision asks the consumer to resync.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EtcdConf } from '../../model/config.ts';
import type { Logger } from '../../observe/log.ts';
import {
  type ConfigStore, type JsonObject, type ListResult, type PutOptions, type PutResult, type StoreItem,
  type DeleteResult, type WatchEvent, type WatchHandlers, type Watcher, StoreConflictError, StoreUnavailableError, formatId,
} from './store.ts';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
/** The smallest key greater than every key that starts with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    if ((buf[i] as number) < 0xff) {
      buf[i] = (buf[i] as number) + 1;
      return buf.subarray(0, i + 1).toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

interface Kv { key?: string; value?: string; create_revision?: string; mod_revision?: string }
interface Header { revision?: string }
// Capped at 1 s: a gateway must be back in step within 2 s of etcd's return (CONTRACT §3), whatever the outage's length.
const WATCH_BACKOFF_MS = [100, 250, 500, 1000] as const;
/** Resource directories Sluice reads; APISIX's others under the prefix (routes, consumers, ...) are noted and ignored. */
const STREAM_DIRS: ReadonlySet<string> = new Set(['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata']);
/** The value APISIX writes at `<prefix>/<resource>/` when it initialises etcd (not an item). */
const INIT_DIR = 'init_dir';

export interface EtcdTlsFiles {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

export interface EtcdStoreOptions {
  readonly conf: EtcdConf;
  readonly log: Logger;
  /** PEM contents for deployment.etcd.tls (read by the caller). */
  readonly tls?: EtcdTlsFiles;
}

export class EtcdStore implements ConfigStore {
  readonly kind = 'etcd' as const;
  readonly prefix: string;
  readonly #opts: EtcdStoreOptions;
  readonly #endpoints: URL[];
  readonly #timeoutMs: number;
  #token: string | undefined;
  #closed = false;
  readonly #watchers = new Set<{ close(): void }>();
  /** Skipped keys (and foreign resource directories) already logged, so each is reported once, not on every list. */
  readonly #noted = new Set<string>();

  constructor(opts: EtcdStoreOptions) {
    this.#opts = opts;
    this.prefix = opts.conf.prefix.replace(/\/+$/, '');
    this.#endpoints = opts.conf.host.map((h) => new URL(h));
    this.#timeoutMs = opts.conf.timeout * 1000;
  }

  /** Logs once per `id` (bounded), at warn for the user's broken stream config, at info for APISIX's other keys. */
  #note(id: string, level: 'warn' | 'info', key: string, msg: string): void {
    if (this.#noted.has(id)) return;
    if (this.#noted.size > 10_000) this.#noted.clear();
    this.#noted.add(id);
    this.#opts.log[level]({ key }, msg);
  }

  #itemOf(kv: Kv): StoreItem | undefined {
    const key = unb64(kv.key);
    const rest = key.startsWith(`${this.prefix}/`) ? key.slice(this.prefix.length + 1) : '';
    const dir = rest.includes('/') ? rest.slice(0, rest.indexOf('/')) : undefined;
    const ours = dir !== undefined && STREAM_DIRS.has(dir);
    if (dir !== undefined && !ours) {
      this.#note(`dir ${dir}`, 'info', key, `etcd: ${this.prefix}/${dir}/ is not a stream resource (APISIX's HTTP config?); ignored`);
    }
    const raw = unb64(kv.value);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined; // APISIX's `init_dir` placeholders and other non-JSON values are not items
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      if (ours && raw !== INIT_DIR) {
        this.#note(`${key} ${kv.mod_revision ?? ''}`, 'warn', key, `etcd: ${key}: skipped: the value is not a JSON object`);
      }
      return undefined;
    }
    return { key, value: value as JsonObject, createdIndex: Number(kv.create_revision ?? 0), modifiedIndex: Number(kv.mod_revision ?? 0) };
  }

  /** One JSON call with failover across endpoints; throws StoreUnavailableError when none answers in time. */
  async #call<T>(path: string, body: unknown, allowAuthRetry = true): Promise<T> {
    if (this.#closed) throw new StoreUnavailableError('store is closed');
    let lastErr = 'no etcd endpoint configured';
    for (let i = 0; i < this.#endpoints.length; i++) {
      const ep = this.#endpoints[0] as URL;
      try {
        const { status, json, text } = await this.#post(ep, path, body, this.#timeoutMs);
        if (status === 401 || (json as { error?: string }).error?.includes('invalid auth token') === true) {
          if (allowAuthRetry && this.#opts.conf.user !== undefined) {
            this.#token = undefined;
            await this.#authenticate();
            return await this.#call<T>(path, body, false);
          }
        }
        if (status >= 500 || status === 0) throw new Error(`etcd answered ${status}: ${JSON.stringify(json)}`);
        // etcd's gateway answers some refusals in plain text (e.g. a client certificate with a CN while auth is on).
        const why = (json as { message?: string }).message ?? (text.trim().slice(0, 200) || String(status));
        if (status !== 200) throw new StoreUnavailableError(`etcd refused ${path}: ${why}`);
        return json as T;
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw err;
        lastErr = `${ep.origin}: ${(err as Error).message}`;
        this.#endpoints.push(this.#endpoints.shift() as URL); // fail over to the next endpoint
      }
    }
    throw new StoreUnavailableError(`etcd is unreachable (${lastErr})`);
  }

  async #authenticate(): Promise<void> {
    const c = this.#opts.conf;
    if (c.user === undefined || this.#token !== undefined) return;
    const res = await this.#call<{ token?: string }>('/v3/auth/authenticate', { name: c.user, password: c.password ?? '' }, false);
    this.#token = res.token;
  }

  #post(ep: URL, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: unknown; text: string }> {
    return new Promise((resolve, reject) => {
      const data = JSON.stringify(body);
      const req = this.#request(ep, path, Buffer.byteLength(data), (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024 * 1024) { req.destroy(new Error('etcd answer too large')); return; }
          chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = {};
          try { json = JSON.parse(text); } catch { /* keep {} */ }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
        res.on('error', (e) => { clearTimeout(timer); reject(e); });
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (e) => { clearTimeout(timer); reject(e); });
      req.end(data);
    });
  }

  #request(ep: URL, path: string, length: number, onResponse: (res: IncomingMessage) => void): ReturnType<typeof httpRequest> {
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': length };
    if (this.#token !== undefined) headers.Authorization = this.#token;
    const tls = this.#opts.conf.tls;
    const base = { host: ep.hostname, port: ep.port === '' ? (ep.protocol === 'https:' ? 443 : 80) : Number(ep.port), path, method: 'POST', headers };
    if (ep.protocol === 'https:') {
      return httpsRequest({
        ...base,
        rejectUnauthorized: tls?.verify !== false,
        ...(tls?.sni !== undefined ? { servername: tls.sni } : {}),
        ...(this.#opts.tls?.ca !== undefined ? { ca: this.#opts.tls.ca } : {}),
        ...(this.#opts.tls?.cert !== undefined && this.#opts.tls.key !== undefined ? { cert: this.#opts.tls.cert, key: this.#opts.tls.key } : {}),
      }, onResponse);
    }
    return httpRequest(base, onResponse);
  }

  async get(key: string): Promise<StoreItem | undefined> {
    await this.#authenticate();
    const res = await this.#call<{ kvs?: Kv[] }>('/v3/kv/range', { key: b64(key) });
    const kv = res.kvs?.[0];
    return kv === undefined ? undefined : this.#itemOf(kv);
  }

  async list(prefix: string): Promise<ListResult> {
    await this.#authenticate();
    const res = await this.#call<{ kvs?: Kv[]; header?: Header }>('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix) });
    const items: StoreItem[] = [];
    for (const kv of res.kvs ?? []) {
      const it = this.#itemOf(kv);
      if (it !== undefined) items.push(it);
    }
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items, revision: Number(res.header?.revision ?? 0) };
  }

  async revision(): Promise<number> {
    await this.#authenticate();
    const res = await this.#call<{ header?: Header }>('/v3/kv/range', { key: b64(`${this.prefix}/`), range_end: prefixEnd(`${this.prefix}/`), count_only: true });
    return Number(res.header?.revision ?? 0);
  }

  async put(key: string, value: JsonObject, opts: PutOptions = {}): Promise<PutResult> {
    await this.#authenticate();
    let lease: string | undefined;
    if (opts.ttl !== undefined) {
      const g = await this.#call<{ ID?: string }>('/v3/lease/grant', { TTL: Math.max(1, Math.ceil(opts.ttl)) });
      lease = g.ID;
    }
    const put = { key: b64(key), value: b64(JSON.stringify(value)), prev_kv: true, ...(lease !== undefined ? { lease } : {}) };
    let header: Header | undefined;
    let prevKv: Kv | undefined;
    if (opts.expectModifiedIndex !== undefined) {
      const compare = opts.expectModifiedIndex === 0
        ? { key: b64(key), target: 'VERSION', result: 'EQUAL', version: '0' }
        : { key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: String(opts.expectModifiedIndex) };
      const res = await this.#call<{ succeeded?: boolean; header?: Header; responses?: { response_put?: { prev_kv?: Kv } }[] }>(
        '/v3/kv/txn', { compare: [compare], success: [{ request_put: put }] });
      if (res.succeeded !== true) throw new StoreConflictError(`compare failed for ${key}`);
      header = res.header;
      prevKv = res.responses?.[0]?.response_put?.prev_kv;
    } else {
      const res = await this.#call<{ header?: Header; prev_kv?: Kv }>('/v3/kv/put', put);
      header = res.header;
      prevKv = res.prev_kv;
    }
    const rev = Number(header?.revision ?? 0);
    const prev = prevKv !== undefined ? this.#itemOf(prevKv) : undefined;
    const created = prevKv !== undefined ? Number(prevKv.create_revision ?? rev) : rev;
    return { item: { key, value: structuredClone(value), createdIndex: created, modifiedIndex: rev }, prev };
  }

  async delete(key: string): Promise<DeleteResult | undefined> {
    await this.#authenticate();
    const res = await this.#call<{ deleted?: string; prev_kvs?: Kv[]; header?: Header }>('/v3/kv/deleterange', { key: b64(key), prev_kv: true });
    if (Number(res.deleted ?? 0) === 0) return undefined;
    const kv = res.prev_kvs?.[0];
    const item = (kv !== undefined ? this.#itemOf(kv) : undefined) ?? { key, value: {}, createdIndex: 0, modifiedIndex: 0 };
    return { item, revision: Number(res.header?.revision ?? 0) };
  }

  /** APISIX's ids: the revision of a write to `<prefix>/gen_id`, 20 digits — unique across every gateway. */
  async nextId(): Promise<string> {
    await this.#authenticate();
    const res = await this.#call<{ header?: Header }>('/v3/kv/put', { key: b64(`${this.prefix}/gen_id`), value: b64('1') });
    return formatId(Number(res.header?.revision ?? 0));
  }

  watch(fromRevision: number, handlers: WatchHandlers): Watcher {
    let closed = false;
    let next = fromRevision + 1;
    let attempt = 0;
    let current: ReturnType<typeof httpRequest> | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    const log = this.#opts.log;
    const backoff = (): number => WATCH_BACKOFF_MS[Math.min(attempt++, WATCH_BACKOFF_MS.length - 1)] as number;
    // (Re)authenticates first when a user is configured: a restarted etcd has forgotten the token.
    const start = (): void => {
      if (closed || this.#closed) return;
      this.#authenticate().then(open, (err: unknown) => {
        if (attempt === 0) log.warn({ err: (err as Error).message }, 'etcd authentication failed; the watch retries');
        if (!closed && !this.#closed) retryTimer = setTimeout(start, backoff());
      });
    };
    const open = (): void => {
      if (closed || this.#closed) return;
      const ep = this.#endpoints[0] as URL;
      const body = JSON.stringify({ create_request: { key: b64(`${this.prefix}/`), range_end: prefixEnd(`${this.prefix}/`), start_revision: String(next) } });
      let buf = '';
      let failed = false;
      const retry = (why: string): void => {
        // A broken stream can report itself more than once (response 'end' or 'error', request 'error'): one retry.
        if (failed || closed || this.#closed) return;
        failed = true;
        current = undefined;
        if (attempt === 0) log.warn({ endpoint: ep.origin, why }, 'etcd watch interrupted; the data plane keeps its config; reconnecting');
        this.#endpoints.push(this.#endpoints.shift() as URL);
        retryTimer = setTimeout(start, backoff());
      };
      // etcd cancels a watch made with an expired token: get a new one and resume from `next` (no resync needed).
      const renew = (): void => {
        this.#token = undefined;
        retry('auth token expired');
        req.destroy();
      };
      const req = this.#request(ep, '/v3/watch', Buffer.byteLength(body), (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          retry(`status ${res.statusCode ?? 0}`);
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (buf.length > 64 * 1024 * 1024) { req.destroy(new Error('watch message too large')); return; }
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line !== '') this.#onWatchLine(line, handlers, (rev) => { next = rev + 1; }, () => { closed = true; req.destroy(); }, renew);
          }
        });
        res.on('end', () => retry('stream ended'));
        res.on('error', (e) => retry(e.message));
      });
      req.on('response', () => { if (attempt > 0) log.info({ endpoint: ep.origin }, 'etcd watch reconnected'); attempt = 0; });
      req.on('error', (e) => retry(e.message));
      req.end(body);
      current = req;
    };
    const w = {
      close: () => {
        closed = true;
        if (retryTimer !== undefined) clearTimeout(retryTimer);
        current?.destroy();
        this.#watchers.delete(w);
      },
    };
    this.#watchers.add(w);
    start();
    return w;
  }

  #onWatchLine(line: string, handlers: WatchHandlers, advance: (rev: number) => void, stop: () => void, renew: () => void): void {
    let msg: {
      result?: { header?: Header; events?: { type?: string; kv?: Kv }[]; compact_revision?: string; canceled?: boolean; cancel_reason?: string; created?: boolean };
      error?: unknown;
    };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    const r = msg.result;
    if (r === undefined) return;
    if (r.compact_revision !== undefined && Number(r.compact_revision) > 0) {
      stop();
      handlers.onResync(`etcd compacted up to revision ${r.compact_revision}`);
      return;
    }
    if (r.canceled === true && this.#opts.conf.user !== undefined && /invalid auth token/.test(r.cancel_reason ?? '')) {
      renew();
      return;
    }
    if (r.canceled === true) {
      stop();
      handlers.onResync('etcd canceled the watch');
      return;
    }
    const evs: WatchEvent[] = [];
    for (const e of r.events ?? []) {
      const kv = e.kv;
      if (kv === undefined) continue;
      const rev = Number(kv.mod_revision ?? r.header?.revision ?? 0);
      if (e.type === 'DELETE') evs.push({ type: 'delete', revision: rev, key: unb64(kv.key) });
      else {
        const item = this.#itemOf(kv);
        if (item !== undefined) evs.push({ type: 'put', revision: rev, item });
      }
      advance(rev);
    }
    if (evs.length > 0) handlers.onEvents(evs);
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const w of [...this.#watchers]) w.close();
    return Promise.resolve();
  }
}
