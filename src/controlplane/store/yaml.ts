// Standalone config (deployment.role: data_plane, config_provider: yaml): `<prefix>/conf/apisix.yaml` with top-level
// `stream_routes`, `upstreams`, `services`, `ssls`, `plugin_metadata` lists, ending with a `#END` line (APISIX's
// marker that the file is complete; a file without it is not loaded yet). The file is polled for changes; each
// accepted load is one revision, and the difference to the previous load goes to the watchers as events.
// An item that fails validation is skipped and logged with its line; the rest applies. Writes are refused.
import { readFileSync, statSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { EnvVarError, substituteEnv } from '../config/env-vars.ts';
import { formatPath } from '../config/errors.ts';
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

/** A log line of one load: a section that is ignored (warn) or an item that is skipped (error), in file order. */
export interface StandaloneLine {
  readonly level: 'error' | 'warn';
  readonly text: string;
}

/** One load of the file: the items by store key and the lines to log, or why the whole file is refused. */
export type StandaloneParse =
  | { readonly items: Map<string, JsonObject>; readonly lines: readonly StandaloneLine[] }
  | { readonly error: string };

/**
 * Parses the text of conf/apisix.yaml (`shown` names it in every line; store keys are `<prefix>/<section>/<id>`).
 * Pure: what to log comes back as values. `validate` checks items against APISIX's schemas.
 */
export function parseStandalone(text: string, shown: string, prefix: string, validate: boolean, env: NodeJS.ProcessEnv = process.env): StandaloneParse {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors[0] !== undefined) {
    const e = doc.errors[0];
    return { error: `${shown}:${e.linePos?.[0]?.line ?? 0}: invalid YAML: ${e.message.split('\n')[0] ?? ''}; keeping the previous config` };
  }
  const out = new Map<string, JsonObject>();
  const lines: StandaloneLine[] = [];
  const root = doc.contents;
  if (root === null) return { items: out, lines };
  if (!isMap(root)) return { error: `${shown}:1: expected a mapping at the top level; keeping the previous config` };
  // Aliases are resolved across the file (an item may be, or hold, an anchor written elsewhere). The yaml package
  // refuses an alias without its anchor, and more aliases than maxAliasCount (a "billion laughs" file): 100 per item.
  let js: Record<string, unknown>;
  try {
    const count = root.items.reduce((n, p) => n + (isSeq(p.value) ? p.value.items.length : 0), 0);
    js = doc.toJS({ maxAliasCount: 100 * Math.max(1, count) }) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    return { error: `${shown}:1: invalid YAML: ${err.message}; keeping the previous config` };
  }
  // APISIX substitutes ${{VAR}} / ${{VAR:=default}} in apisix.yaml too (cli/file.lua); a missing one refuses the file
  try {
    js = substituteEnv(js, env) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof EnvVarError)) throw err;
    const [section, index] = err.segs;
    const sec = root.items.find((p) => (p.key as { value?: unknown } | null)?.value === section)?.value;
    const node = isSeq(sec) && typeof index === 'number' ? sec.items[index] : undefined;
    const line = lc.linePos((node as { range?: [number] } | undefined)?.range?.[0] ?? 0).line;
    return { error: `${shown}:${line}: ${formatPath(err.segs)}: ${err.message}; keeping the previous config` };
  }
  for (const pair of root.items) {
    const k = (pair.key as { value?: unknown } | null)?.value;
    const section = typeof k === 'string' ? k : '';
    if (!Object.hasOwn(SECTIONS, section)) {
      lines.push({ level: 'warn', text: `${shown}: ${section}: not a stream resource; ignored` });
      continue;
    }
    const schema = SECTIONS[section];
    const seq = pair.value;
    const list = js[section];
    if (!isSeq(seq) || !Array.isArray(list)) continue;
    seq.items.forEach((node, i) => {
      const line = lc.linePos((node as unknown as { range?: [number] }).range?.[0] ?? 0).line;
      const where = `${shown}:${line}: ${section}[${i}]`;
      const skip = (why: string): void => { lines.push({ level: 'error', text: `${where}: skipped: ${why}` }); };
      const value: unknown = structuredClone(list[i]); // items that alias one another do not share objects
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return skip('not an object');
      const obj = value as JsonObject;
      const rawId = section === 'plugin_metadata' ? obj.id ?? obj.name : obj.id;
      const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : undefined;
      if (id === undefined || !/^[a-zA-Z0-9-_.]{1,64}$/.test(id)) return skip('missing or invalid id');
      if (schema !== undefined && validate) {
        const err = check(schema, structuredClone(obj));
        if (err !== undefined) return skip(`invalid configuration: ${err}`);
      }
      const key = `${prefix}/${section}/${id}`;
      if (out.has(key)) return skip(`duplicate id ${id}`);
      out.set(key, { ...obj, id });
    });
  }
  return { items: out, lines };
}

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
    const shown = this.#opts.shown;
    const r = parseStandalone(text, shown, this.#prefix, this.#opts.validate !== false);
    if ('error' in r) {
      this.#opts.log.error({ file: shown }, r.error);
      return undefined;
    }
    for (const l of r.lines) {
      if (l.level === 'warn') this.#opts.log.warn({ file: shown }, l.text);
      else this.#opts.log.error(l.text);
    }
    return r.items;
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
