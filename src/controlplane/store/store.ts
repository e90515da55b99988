// The config store interface every provider implements (embedded sqlite, etcd, standalone yaml).
// Keys look like `/apisix/<resource>/<id>`; values are JSON. Revisions behave like etcd's: one global counter,
// bumped by every write; an item carries the revision that created it and the one that last changed it.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

/** A JSON object (not an array, not null). */
export function isJsonObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export interface StoreItem {
  readonly key: string;
  readonly value: JsonObject;
  readonly createdIndex: number;
  readonly modifiedIndex: number;
}

export type WatchEvent =
  | { readonly type: 'put'; readonly revision: number; readonly item: StoreItem }
  | { readonly type: 'delete'; readonly revision: number; readonly key: string };

export interface PutOptions {
  /** Seconds until the item expires (an etcd lease with etcd). */
  readonly ttl?: number | undefined;
  /** Compare-and-set: the write only happens if the item's modifiedIndex is still this (0 = must not exist). */
  readonly expectModifiedIndex?: number | undefined;
}

export interface PutResult {
  readonly item: StoreItem;
  /** The item this write replaced, if any. */
  readonly prev: StoreItem | undefined;
}

export interface DeleteResult {
  readonly item: StoreItem;
  /** The store revision the delete made (what the data plane must reach for it to be in force). */
  readonly revision: number;
}

export interface ListResult {
  readonly items: StoreItem[];
  /** The store revision the listing reflects; watch from here to miss nothing. */
  readonly revision: number;
}

export interface Watcher {
  close(): void;
}

export interface WatchHandlers {
  /** Events in revision order, delivered in batches. */
  onEvents(events: readonly WatchEvent[]): void;
  /** The history needed to resume is gone (compacted) or the stream broke: the consumer must list again. */
  onResync(reason: string): void;
}

/** Thrown by providers for a compare-and-set mismatch; the admin layer turns it into a retry or a 409-class error. */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
}

/** Thrown when the backing store cannot be reached; the admin layer answers 503. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}

/** Thrown when a write is attempted on a read-only provider (the standalone yaml file). */
export class StoreReadOnlyError extends Error {
  override readonly name = 'StoreReadOnlyError';
}

/** One revision of one key (GET /sluice/v1/history): `time` in Unix ms; `value` as stored, null for a delete. */
export interface HistoryEntry {
  readonly revision: number;
  readonly key: string;
  readonly action: 'put' | 'delete';
  readonly time: number;
  readonly value: JsonObject | null;
}

export interface ConfigStore {
  readonly kind: 'embedded' | 'etcd' | 'yaml';
  /**
   * The kept revisions, newest first: of `key`, or of every key under `prefix`; at most `limit`. Only stores that
   * keep a history have it (the embedded store: its history table).
   */
  history?(prefix: string, key: string | undefined, limit: number): Promise<HistoryEntry[]>;
  get(key: string): Promise<StoreItem | undefined>;
  /** Every live item whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ListResult>;
  put(key: string, value: JsonObject, opts?: PutOptions): Promise<PutResult>;
  /** Returns the deleted item and the revision of the delete, or undefined when there was none. */
  delete(key: string): Promise<DeleteResult | undefined>;
  /** A new, unique, 20-digit zero-padded id (APISIX's POST ids). */
  nextId(): Promise<string>;
  /** Current revision of the whole store. */
  revision(): Promise<number>;
  /** Events with revision > fromRevision, then live ones. */
  watch(fromRevision: number, handlers: WatchHandlers): Watcher;
  close(): Promise<void>;
}

/** 20-digit zero-padded decimal id, as APISIX derives from etcd's revision. */
export function formatId(n: number): string {
  return String(n).padStart(20, '0');
}
