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
  type ConfigStore, type JsonObject, type ListResult, type PutResult, type StoreItem, type WatchEvent,
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
}

export class YamlStore implements ConfigStore {
  readonly kind = 'yaml' as const;
  readonly #opts: YamlStoreOptions;
  readonly #prefix: string;
  #items = new Map<string, StoreItem>();
  #revision = 0;
  #mtime = -1;
  #size = -1;
  readonly #watchers = new Set<{ handlers: WatchHandlers; closed: boolean }>();
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
    if (st.mtimeMs === this.#mtime && st.size === this.#size) return false;
    this.#mtime = st.mtimeMs;
    this.#size = st.size;
    const text = readFileSync(this.#opts.file, 'utf8');
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
        if (schema !== undefined) {
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
    for (const w of this.#watchers) if (!w.closed && events.length > 0) w.handlers.onEvents(events);
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

  delete(): Promise<StoreItem | undefined> {
    return Promise.reject(new StoreReadOnlyError(READ_ONLY_MESSAGE));
  }

  nextId(): Promise<string> {
    return Promise.reject(new StoreReadOnlyError(READ_ONLY_MESSAGE));
  }

  watch(fromRevision: number, handlers: WatchHandlers): Watcher {
    const w = { handlers, closed: false };
    this.#watchers.add(w);
    const missed = this.#history.filter((e) => e.revision > fromRevision);
    const oldest = this.#history[0]?.revision ?? this.#revision + 1;
    if (fromRevision + 1 < oldest && fromRevision < this.#revision) setImmediate(() => { if (!w.closed) handlers.onResync('history too short'); });
    else if (missed.length > 0) setImmediate(() => { if (!w.closed) handlers.onEvents(missed); });
    return { close: () => { w.closed = true; this.#watchers.delete(w); } };
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    for (const w of this.#watchers) w.closed = true;
    this.#watchers.clear();
    return Promise.resolve();
  }
}
