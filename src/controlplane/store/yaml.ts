// Standalone config (deployment.role: data_plane, config_provider: yaml): `<prefix>/conf/apisix.yaml` with top-level
// `stream_routes`, `upstreams`, `services`, `ssls`, `plugin_metadata` lists, ending with a `#END` line (APISIX's
// marker that the file is complete; a file without it is not loaded yet). The file is polled for changes; each
// accepted load is one revision, and the difference to the previous load goes to the watchers as events.
// An item that fails validation is skipped and logged with its line; the rest applies. Writes are refused.
import { readFileSync, statSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { check, type Schema } from '../../lib/jsonschema.ts';
import type { Logger } from '../../observe/log.ts';
import { serviceSchema, sslSchema, streamRouteSchema, upstreamSchema } from '../schema/apisix.ts';
import {
  type ConfigStore, type DeleteResult, type JsonObject, type ListResult, type PutResult, type StoreItem, type WatchEvent,
  type WatchHandlers, type Watcher, StoreReadOnlyError,
} from './store.ts';

const POLL_MS = 250;
const SECTIONS: Readonly<Record<string, Schema | undefined>> = {
  stream_routes: streamRouteSchema, upstreams: upstreamSchema, services: serviceSchema, ssls: sslSchema, plugin_metadata: undefined,
};
export const READ_ONLY_MESSAGE = 'the Admin API is read-only when deployment.role is data_plane: the config comes from conf/apisix.yaml';

export interface YamlStoreOptions {
  readonly file: string;
  /** How the file is named in log lines (e.g. conf/apisix.yaml). */
  readonly shown: string;
  readonly log: Logger;
  readonly prefix?: string;
  /**
   * Default true: items are checked against APISIX's schemas here, so a bad one is logged with its line. False leaves
   * the checks to the snapshot builder (the store contract suite stores values that are not APISIX objects).
   */
  readonly validate?: boolean;
}

interface YamlWatcher {
  readonly handlers: WatchHandlers;
  closed: boolean;
  /** Events waiting for the watcher's first delivery (its replay); live events queue behind them, in order. */
  backlog: WatchEvent[] | undefined;
}

/** Linux stamps mtime/ctime from a coarse clock (a few ms): a change this close to a read may leave the stat equal. */
const STAT_SLACK_MS = 100;

export class YamlStore implements ConfigStore {
  readonly kind = 'yaml' as const;
  readonly #opts: YamlStoreOptions;
  readonly #prefix: string;
  #items = new Map<string, StoreItem>();
  #revision = 0;
  #mtime = -1;
  #size = -1;
  #ino = -1;
  #ctime = -1;
  /** When the file was last read (wall clock, ms), and its text then. */
  #readAt = 0;
  #text: string | undefined;
  readonly #watchers = new Set<YamlWatcher>();
  readonly #timer: NodeJS.Timeout;
  /** Events of recent loads, for watchers that start from an older revision. */
  #history: WatchEvent[] = [];

  constructor(opts: YamlStoreOptions) {
    this.#opts = opts;
    this.#prefix = opts.prefix ?? '/apisix';
    this.reload();
    this.#timer = setInterval(() => this.reload(), POLL_MS);
    this.#timer.unref();
  }

  /** Re-reads the file if it changed; returns whether a new revision was made. */
  reload(): boolean {
    let st;
    try {
      st = statSync(this.#opts.file);
    } catch {
      if (this.#mtime !== -2) this.#opts.log.warn({ file: this.#opts.shown }, 'standalone config file not found; waiting for it');
      this.#mtime = -2;
      return false;
    }
    // Unchanged stat proves nothing changed only if the file was last touched well before we read it: two writes of
    // the same size within one tick of the kernel's coarse clock leave mtime, ctime and size equal.
    const same = st.mtimeMs === this.#mtime && st.ctimeMs === this.#ctime && st.size === this.#size && st.ino === this.#ino;
    if (same && Math.max(st.mtimeMs, st.ctimeMs) < this.#readAt - STAT_SLACK_MS) return false;
    this.#mtime = st.mtimeMs;
    this.#ctime = st.ctimeMs;
    this.#size = st.size;
    this.#ino = st.ino;
    this.#readAt = Date.now();
    const text = readFileSync(this.#opts.file, 'utf8');
    if (text === this.#text) return false;
    this.#text = text;
    if (!/^#END\s*$/m.test(text)) {
      this.#opts.log.warn({ file: this.#opts.shown }, 'standalone config has no #END line yet; keeping the previous config');
      return false;
    }
    const next = this.#parse(text);
    if (next === undefined) return false;
    this.#apply(next);
    return true;
  }

  #parse(text: string): Map<string, JsonObject> | undefined {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc });
    const shown = this.#opts.shown;
    if (doc.errors[0] !== undefined) {
      const e = doc.errors[0];
      this.#opts.log.error({ file: shown }, `${shown}:${e.linePos?.[0]?.line ?? 0}: invalid YAML: ${e.message.split('\n')[0] ?? ''}; keeping the previous config`);
      return undefined;
    }
    const out = new Map<string, JsonObject>();
    const root = doc.contents;
    if (root === null) return out;
    if (!isMap(root)) {
      this.#opts.log.error({ file: shown }, `${shown}:1: expected a mapping at the top level; keeping the previous config`);
      return undefined;
    }
    for (const pair of root.items) {
      const k = (pair.key as { value?: unknown } | null)?.value;
      const section = typeof k === 'string' ? k : '';
      if (!(section in SECTIONS)) {
        this.#opts.log.warn({ file: shown }, `${shown}: ${section}: not a stream resource; ignored`);
        continue;
      }
      const schema = SECTIONS[section];
      const seq = pair.value;
      if (!isSeq(seq)) continue;
      seq.items.forEach((node, i) => {
        const line = lc.linePos((node as unknown as { range?: [number] }).range?.[0] ?? 0).line;
        const where = `${shown}:${line}: ${section}[${i}]`;
        const value: unknown = (node as { toJSON(): unknown }).toJSON();
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          this.#opts.log.error(`${where}: skipped: not an object`);
          return;
        }
        const obj = value as JsonObject;
        const rawId = section === 'plugin_metadata' ? obj.id ?? obj.name : obj.id;
        const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : undefined;
        if (id === undefined || !/^[a-zA-Z0-9-_.]{1,64}$/.test(id)) {
          this.#opts.log.error(`${where}: skipped: missing or invalid id`);
          return;
        }
        if (schema !== undefined && this.#opts.validate !== false) {
          const err = check(schema, structuredClone(obj));
          if (err !== undefined) {
            this.#opts.log.error(`${where}: skipped: invalid configuration: ${err}`);
            return;
          }
        }
        const key = `${this.#prefix}/${section}/${id}`;
        if (out.has(key)) {
          this.#opts.log.error(`${where}: skipped: duplicate id ${id}`);
          return;
        }
        out.set(key, { ...obj, id });
      });
    }
    return out;
  }

  #apply(next: Map<string, JsonObject>): void {
    const rev = ++this.#revision;
    const events: WatchEvent[] = [];
    const items = new Map<string, StoreItem>();
    for (const [key, value] of next) {
      const prev = this.#items.get(key);
      if (prev !== undefined && JSON.stringify(prev.value) === JSON.stringify(value)) {
        items.set(key, prev);
        continue;
      }
      const item: StoreItem = { key, value, createdIndex: prev?.createdIndex ?? rev, modifiedIndex: rev };
      items.set(key, item);
      events.push({ type: 'put', revision: rev, item });
    }
    for (const key of this.#items.keys()) if (!next.has(key)) events.push({ type: 'delete', revision: rev, key });
    this.#items = items;
    this.#history.push(...events);
    if (this.#history.length > 10_000) this.#history = this.#history.slice(-10_000);
    if (events.length === 0) return;
    for (const w of this.#watchers) {
      if (w.closed) continue;
      if (w.backlog !== undefined) w.backlog.push(...events);
      else w.handlers.onEvents(events);
    }
  }

  get(key: string): Promise<StoreItem | undefined> {
    return Promise.resolve(this.#items.get(key));
  }

  list(prefix: string): Promise<ListResult> {
    const items = [...this.#items.values()].filter((i) => i.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
    return Promise.resolve({ items, revision: this.#revision });
  }

  revision(): Promise<number> {
    return Promise.resolve(this.#revision);
  }

  put(): Promise<PutResult> {
    return Promise.reject(new StoreReadOnlyError(READ_ONLY_MESSAGE));
  }

  delete(): Promise<DeleteResult | undefined> {
    return Promise.reject(new StoreReadOnlyError(READ_ONLY_MESSAGE));
  }

  nextId(): Promise<string> {
    return Promise.reject(new StoreReadOnlyError(READ_ONLY_MESSAGE));
  }

  watch(fromRevision: number, handlers: WatchHandlers): Watcher {
    const oldest = this.#history[0]?.revision ?? this.#revision + 1;
    const close = (): void => { w.closed = true; this.#watchers.delete(w); };
    const w: YamlWatcher = { handlers, closed: false, backlog: this.#history.filter((e) => e.revision > fromRevision) };
    if (fromRevision + 1 < oldest && fromRevision < this.#revision) {
      setImmediate(() => { if (!w.closed) { close(); handlers.onResync('history too short'); } });
      return { close };
    }
    this.#watchers.add(w);
    // The replay is delivered on the next turn (the caller has its Watcher by then); a reload before that queues
    // behind it, so events always arrive in revision order.
    setImmediate(() => {
      const evs = w.backlog ?? [];
      w.backlog = undefined;
      if (!w.closed && evs.length > 0) handlers.onEvents(evs);
    });
    return { close };
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    for (const w of this.#watchers) w.closed = true;
    this.#watchers.clear();
    return Promise.resolve();
  }
}
