// The default config store: one sqlite file (node:sqlite) in <prefix>/<sluice.data_dir>.
// WAL + synchronous=FULL and one transaction per write: a write is acknowledged only after it is on disk, so it
// survives kill -9 (and power loss). A history table records every revision; watchers replay it, and it is
// compacted to the newest HISTORY_KEEP revisions (an older watch start gets onResync, like etcd's compaction).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type ConfigStore, type JsonObject, type ListResult, type PutOptions, type PutResult, type StoreItem,
  type DeleteResult, type HistoryEntry, type WatchEvent, type WatchHandlers, type Watcher, StoreConflictError, StoreUnavailableError, formatId,
} from './store.ts';

const HISTORY_KEEP = 10_000;
const COMPACT_EVERY = 1_000;
const TTL_SWEEP_MS = 500;
/** Cap on events queued for one slow watcher before it is told to resync instead (bounded memory). */
const WATCH_QUEUE_CAP = 50_000;

export interface EmbeddedStoreOptions {
  /** Directory holding the database file; created if missing. ':memory:' for tests that need no file. */
  readonly dir: string;
  readonly now?: () => number;
}

interface KvRow { key: string; value: string; create_rev: number; mod_rev: number; expires_at: number | null }
interface HistRow { rev: number; key: string; op: string; value: string | null; create_rev: number | null }

class EmbeddedWatcher implements Watcher {
  queue: WatchEvent[] = [];
  scheduled = false;
  closed = false;
  readonly handlers: WatchHandlers;
  readonly #owner: EmbeddedStore;
  constructor(owner: EmbeddedStore, handlers: WatchHandlers) {
    this.#owner = owner;
    this.handlers = handlers;
  }
  close(): void {
    this.closed = true;
    this.queue = [];
    this.#owner.removeWatcher(this);
  }
}

/** SQLite's primary result codes for a disk that cannot take the write (sqlite3.h). */
const DISK_FAULTS: Readonly<Record<number, string>> = {
  5: 'the database is locked by another process', 8: 'the file system is read-only', 10: 'a disk I/O error',
  13: 'the disk is full', 14: 'the database file cannot be opened',
};

/** A write the disk refused, as a StoreUnavailableError naming why; undefined for any other error. */
function storageFault(err: unknown, file: string): StoreUnavailableError | undefined {
  const code = (err as { errcode?: unknown }).errcode;
  if (typeof code !== 'number') return undefined;
  const why = DISK_FAULTS[code & 0xff];
  if (why === undefined) return undefined;
  return new StoreUnavailableError(`the embedded store cannot write: ${why} (${file}); nothing was written`);
}

export class EmbeddedStore implements ConfigStore {
  readonly kind = 'embedded' as const;
  readonly file: string;
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #watchers = new Set<EmbeddedWatcher>();
  readonly #sweep: NodeJS.Timeout;
  #writesSinceCompact = 0;
  #closed = false;
  readonly #q: {
    get: StatementSync; list: StatementSync; upsert: StatementSync; del: StatementSync; hist: StatementSync;
    histFrom: StatementSync; histKey: StatementSync; histAll: StatementSync; meta: StatementSync; setMeta: StatementSync; expired: StatementSync;
  };

  constructor(opts: EmbeddedStoreOptions) {
    this.#now = opts.now ?? Date.now;
    if (opts.dir === ':memory:') {
      this.file = ':memory:';
    } else {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      this.file = path.join(opts.dir, 'sluice.db');
    }
    this.#db = new DatabaseSync(this.file);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS kv (
        key TEXT PRIMARY KEY, value TEXT NOT NULL,
        create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, expires_at INTEGER);
      CREATE TABLE IF NOT EXISTS history (
        rev INTEGER PRIMARY KEY, key TEXT NOT NULL, op TEXT NOT NULL, value TEXT, create_rev INTEGER,
        at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0), ('gen_id', 0);
    `);
    this.#q = {
      get: this.#db.prepare('SELECT * FROM kv WHERE key = ?'),
      list: this.#db.prepare('SELECT * FROM kv WHERE key >= ? AND key < ? ORDER BY key'),
      upsert: this.#db.prepare(`INSERT INTO kv (key, value, create_rev, mod_rev, expires_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, expires_at = excluded.expires_at`),
      del: this.#db.prepare('DELETE FROM kv WHERE key = ?'),
      hist: this.#db.prepare('INSERT INTO history (rev, key, op, value, create_rev, at) VALUES (?, ?, ?, ?, ?, ?)'),
      histFrom: this.#db.prepare('SELECT rev, key, op, value, create_rev FROM history WHERE rev > ? ORDER BY rev'),
      histKey: this.#db.prepare('SELECT rev, key, op, value, at FROM history WHERE key = ? ORDER BY rev DESC LIMIT ?'),
      histAll: this.#db.prepare('SELECT rev, key, op, value, at FROM history WHERE key >= ? AND key < ? ORDER BY rev DESC LIMIT ?'),
      meta: this.#db.prepare('SELECT value FROM meta WHERE name = ?'),
      setMeta: this.#db.prepare('UPDATE meta SET value = ? WHERE name = ?'),
      expired: this.#db.prepare('SELECT key FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1000'),
    };
    this.#sweep = setInterval(() => this.#sweepExpired(), TTL_SWEEP_MS);
    this.#sweep.unref();
  }

  history(prefix: string, key: string | undefined, limit: number): Promise<HistoryEntry[]> {
    const rows = (key !== undefined ? this.#q.histKey.all(key, limit) : this.#q.histAll.all(`${prefix}/`, `${prefix}0`, limit)) as unknown as
      { rev: number; key: string; op: string; value: string | null; at: number }[];
    return Promise.resolve(rows.map((r) => ({
      revision: r.rev, key: r.key, action: r.op === 'delete' ? 'delete' : 'put', time: r.at,
      value: r.op === 'delete' || r.value === null ? null : JSON.parse(r.value) as JsonObject,
    })));
  }

  #meta(name: string): number {
    const row = this.#q.meta.get(name) as { value: number } | undefined;
    return row?.value ?? 0;
  }

  #live(row: KvRow | undefined): row is KvRow {
    return row !== undefined && (row.expires_at === null || row.expires_at > this.#now());
  }

  #toItem(row: KvRow): StoreItem {
    return { key: row.key, value: JSON.parse(row.value) as JsonObject, createdIndex: row.create_rev, modifiedIndex: row.mod_rev };
  }

  /**
   * Runs fn in one IMMEDIATE transaction; rolls back on any throw. A full or read-only disk is a StoreUnavailableError
   * (the Admin API's 503); SQLite may have rolled back already then, so ROLLBACK only runs on an open transaction.
   */
  #tx<T>(fn: () => T): T {
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw storageFault(err, this.file) ?? err;
    }
  }

  get(key: string): Promise<StoreItem | undefined> {
    const row = this.#q.get.get(key) as KvRow | undefined;
    return Promise.resolve(this.#live(row) ? this.#toItem(row) : undefined);
  }

  list(prefix: string): Promise<ListResult> {
    // Range scan [prefix, prefix + U+FFFF): every key that starts with prefix.
    const rows = this.#q.list.all(prefix, prefix + '\uffff') as unknown as KvRow[];
    const items: StoreItem[] = [];
    for (const r of rows) if (this.#live(r)) items.push(this.#toItem(r));
    return Promise.resolve({ items, revision: this.#meta('revision') });
  }

  revision(): Promise<number> {
    return Promise.resolve(this.#meta('revision'));
  }

  put(key: string, value: JsonObject, opts: PutOptions = {}): Promise<PutResult> {
    try {
      return Promise.resolve(this.putSync(key, value, opts));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  putSync(key: string, value: JsonObject, opts: PutOptions = {}): PutResult {
    this.#assertOpen();
    const text = JSON.stringify(value);
    const now = this.#now();
    const expiresAt = opts.ttl !== undefined ? now + Math.round(opts.ttl * 1000) : null;
    const res = this.#tx(() => {
      const old = this.#q.get.get(key) as KvRow | undefined;
      const prevRow = this.#live(old) ? old : undefined;
      if (opts.expectModifiedIndex !== undefined && (prevRow?.mod_rev ?? 0) !== opts.expectModifiedIndex) {
        throw new StoreConflictError(`compare failed for ${key}`);
      }
      const rev = this.#meta('revision') + 1;
      const createRev = prevRow?.create_rev ?? rev;
      this.#q.upsert.run(key, text, createRev, rev, expiresAt);
      this.#q.hist.run(rev, key, 'put', text, createRev, now);
      this.#q.setMeta.run(rev, 'revision');
      const item: StoreItem = { key, value: JSON.parse(text) as JsonObject, createdIndex: createRev, modifiedIndex: rev };
      return { item, prev: prevRow ? this.#toItem(prevRow) : undefined, rev };
    });
    this.#afterWrite({ type: 'put', revision: res.rev, item: res.item });
    return { item: res.item, prev: res.prev };
  }

  delete(key: string): Promise<DeleteResult | undefined> {
    try {
      return Promise.resolve(this.deleteSync(key));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  deleteSync(key: string): DeleteResult | undefined {
    this.#assertOpen();
    const res = this.#tx(() => {
      const old = this.#q.get.get(key) as KvRow | undefined;
      if (old === undefined) return undefined;
      const live = this.#live(old);
      const rev = this.#meta('revision') + 1;
      this.#q.del.run(key);
      this.#q.hist.run(rev, key, 'delete', null, null, this.#now());
      this.#q.setMeta.run(rev, 'revision');
      return { item: live ? this.#toItem(old) : undefined, rev };
    });
    if (res === undefined) return undefined;
    this.#afterWrite({ type: 'delete', revision: res.rev, key });
    return res.item === undefined ? undefined : { item: res.item, revision: res.rev };
  }

  nextId(): Promise<string> {
    this.#assertOpen();
    const n = this.#tx(() => {
      const v = this.#meta('gen_id') + 1;
      this.#q.setMeta.run(v, 'gen_id');
      return v;
    });
    return Promise.resolve(formatId(n));
  }

  watch(fromRevision: number, handlers: WatchHandlers): Watcher {
    const w = new EmbeddedWatcher(this, handlers);
    this.#watchers.add(w);
    if (fromRevision < this.#meta('compacted')) {
      this.#schedule(w, () => handlers.onResync(`revision ${fromRevision} has been compacted`));
      return w;
    }
    const rows = this.#q.histFrom.all(fromRevision) as unknown as HistRow[];
    for (const r of rows) w.queue.push(this.#histEvent(r));
    if (w.queue.length > 0) this.#schedule(w);
    return w;
  }

  removeWatcher(w: EmbeddedWatcher): void {
    this.#watchers.delete(w);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const w of this.#watchers) w.close();
    this.#db.close();
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('store is closed');
  }

  #histEvent(r: HistRow): WatchEvent {
    if (r.op === 'delete' || r.value === null) return { type: 'delete', revision: r.rev, key: r.key };
    return {
      type: 'put', revision: r.rev,
      item: { key: r.key, value: JSON.parse(r.value) as JsonObject, createdIndex: r.create_rev ?? r.rev, modifiedIndex: r.rev },
    };
  }

  #afterWrite(ev: WatchEvent): void {
    for (const w of this.#watchers) {
      if (w.queue.length >= WATCH_QUEUE_CAP) {
        w.queue = [];
        this.#schedule(w, () => w.handlers.onResync('watch queue overflow'));
        continue;
      }
      w.queue.push(ev);
      this.#schedule(w);
    }
    if (++this.#writesSinceCompact >= COMPACT_EVERY) {
      this.#writesSinceCompact = 0;
      // the write is done; a compaction the disk refuses waits for the next round
      try { this.#compact(); } catch (err) { if (!(err instanceof StoreUnavailableError)) throw err; }
    }
  }

  /** Delivers a watcher's queue on a later tick, so a handler never runs inside a write. */
  #schedule(w: EmbeddedWatcher, special?: () => void): void {
    if (special !== undefined) {
      setImmediate(() => { if (!w.closed) special(); });
      return;
    }
    if (w.scheduled) return;
    w.scheduled = true;
    setImmediate(() => {
      w.scheduled = false;
      if (w.closed || w.queue.length === 0) return;
      const batch = w.queue;
      w.queue = [];
      w.handlers.onEvents(batch);
    });
  }

  #compact(): void {
    const rev = this.#meta('revision');
    const keepFrom = rev - HISTORY_KEEP;
    if (keepFrom <= this.#meta('compacted')) return;
    this.#tx(() => {
      this.#db.prepare('DELETE FROM history WHERE rev <= ?').run(keepFrom);
      this.#q.setMeta.run(keepFrom, 'compacted');
    });
  }

  #sweepExpired(): void {
    if (this.#closed) return;
    const rows = this.#q.expired.all(this.#now()) as unknown as { key: string }[];
    try {
      for (const r of rows) this.deleteSync(r.key);
    } catch (err) {
      // a full or read-only disk: the expired keys are deleted by a later sweep (reads skip them meanwhile)
      if (!(err instanceof StoreUnavailableError)) throw err;
    }
  }
}
