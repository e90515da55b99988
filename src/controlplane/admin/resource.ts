// One generic CRUD handler for every Admin API resource, following APISIX 3.x's admin/resource.lua:
// the same order of checks, the same status codes, the same envelopes. A resource only declares what differs.
import {
  isJsonObject, StoreConflictError, StoreReadOnlyError, StoreUnavailableError, type JsonObject, type JsonValue, type StoreItem,
} from '../store/store.ts';
import type { AdminContext } from './context.ts';
import { AdminError, adminError } from './errors.ts';
import { Refs } from './refs.ts';
import { notAnObject } from '../../lib/jsonschema.ts';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

export interface ResourceDef {
  /** Path segment and store directory, e.g. `stream_routes`. */
  readonly name: string;
  /** Fills the messages: `missing stream route id`, `not supported \`PATCH\` method for stream route`. */
  readonly kind: string;
  /** Schema check; fills APISIX's defaults into conf; returns the message in APISIX's words, or undefined. */
  readonly validate: (conf: unknown) => string | undefined;
  readonly unsupportedMethods?: readonly Method[];
  /** stream_routes: refused (400) for every method while stream mode is off. */
  readonly requiresStream?: boolean;
  /** Checks after the schema (references, semantic rules); throws adminError. */
  readonly check?: (id: string, conf: JsonObject, refs: Refs) => Promise<void>;
  /** Refuses a DELETE while something uses the item, unless ?force=true. */
  readonly deleteCheck?: (id: string, refs: Refs) => Promise<void>;
  /** Fields usable in `?filter=field=value` on lists (APISIX 3.13+). */
  readonly listFilterFields?: readonly string[];
  /** Rewrites a validated value before it is stored (e.g. encrypts private keys). */
  readonly beforeStore?: (conf: JsonObject) => JsonObject;
  /** Rewrites a stored value before it is returned (e.g. removes private keys). */
  readonly present?: (value: JsonObject) => JsonObject;
}

export interface HandlerResult {
  readonly status: number;
  readonly body: unknown;
  /** Set for a text body (default: JSON). */
  readonly contentType?: string;
}

export interface ResourceRequest {
  readonly method: Method;
  readonly id: string | undefined;
  readonly subPath: string;
  readonly body: unknown;
  readonly hasBody: boolean;
  readonly query: URLSearchParams;
}

const FORBIDDEN_TIME_PROPS = ['create_time', 'update_time'] as const;

/** Lua's tonumber() on a query argument: a finite decimal or hex number, blanks around; else undefined. */
export function luaNumber(text: string): number | undefined {
  const n = Number(text);
  return text.trim() === '' || !Number.isFinite(n) ? undefined : n;
}

/** Lua truth: only nil and false are false (JSON null decodes to cjson.null, which is true). */
function truthy(v: unknown): boolean {
  return v !== undefined && v !== false;
}

/** APISIX's check_forbidden_properties: top level, then `upstream`, then `plugins`. */
function forbiddenProperty(conf: JsonObject): string | undefined {
  for (const p of FORBIDDEN_TIME_PROPS) if (truthy(conf[p])) return p;
  for (const sub of ['upstream', 'plugins'] as const) {
    const v = conf[sub];
    if (isJsonObject(v)) for (const p of FORBIDDEN_TIME_PROPS) if (truthy(v[p])) return `${sub}.${p}`;
  }
  return undefined;
}

function idString(v: JsonValue | undefined): string | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Sets an own data property: a JSON key `__proto__` stays a plain key (and fails the schema) instead of a prototype. */
function setOwn(obj: JsonObject, k: string, v: JsonValue): void {
  Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** core.table.merge: objects merge recursively, null deletes, anything else (arrays included) replaces. */
export function mergePatch(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const cur = Object.hasOwn(out, k) ? out[k] : undefined;
    if (v === null) delete out[k];
    else if (isJsonObject(v) && isJsonObject(cur)) setOwn(out, k, mergePatch(cur, v));
    else setOwn(out, k, structuredClone(v));
  }
  return out;
}

/** core.table.patch: sets the value at a `/`-separated sub path, creating missing objects. */
export function patchSubPath(base: JsonObject, subPath: string, value: JsonValue): JsonObject {
  const segs = subPath.split('/').filter((s) => s !== '');
  const out = structuredClone(base);
  let node: JsonObject = out;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i] as string;
    const next = Object.hasOwn(node, seg) ? node[seg] : undefined;
    if (next === undefined) {
      const created: JsonObject = {};
      setOwn(node, seg, created);
      node = created;
    } else if (isJsonObject(next)) {
      node = next;
    } else {
      throw adminError('INVALID_SUB_PATH', { path: segs.slice(0, i + 1).join('/') });
    }
  }
  const last = segs[segs.length - 1];
  if (last === undefined) throw adminError('INVALID_SUB_PATH', { path: subPath });
  if (value === null) delete node[last];
  else setOwn(node, last, value);
  return out;
}

function storeError(err: unknown, kind: string): never {
  if (err instanceof AdminError) throw err;
  if (err instanceof StoreConflictError) throw adminError('STORE_CONFLICT', { kind });
  if (err instanceof StoreUnavailableError) throw adminError('STORE_UNAVAILABLE', { reason: err.message });
  if (err instanceof StoreReadOnlyError) throw adminError('STORE_READ_ONLY', { reason: err.message });
  throw err;
}

export class ResourceHandler {
  readonly def: ResourceDef;
  readonly #ctx: AdminContext;
  readonly #refs: Refs;

  constructor(ctx: AdminContext, def: ResourceDef) {
    this.def = def;
    this.#ctx = ctx;
    this.#refs = new Refs(ctx);
  }

  #key(id: string): string {
    return `${this.#ctx.prefix}/${this.def.name}/${id}`;
  }

  #present(item: StoreItem): { key: string; value: JsonObject; createdIndex: number; modifiedIndex: number } {
    const value = this.def.present ? this.def.present(item.value) : item.value;
    return { key: item.key, value, createdIndex: item.createdIndex, modifiedIndex: item.modifiedIndex };
  }

  async handle(req: ResourceRequest): Promise<HandlerResult> {
    if (this.def.unsupportedMethods?.includes(req.method) === true) {
      throw adminError('METHOD_NOT_SUPPORTED', { method: req.method, kind: this.def.kind });
    }
    try {
      switch (req.method) {
        case 'GET': return await (req.id === undefined ? this.#list(req.query) : this.#get(req.id));
        case 'PUT': return await this.#put(req);
        case 'POST': return await this.#post(req);
        case 'DELETE': return await this.#delete(req);
        case 'PATCH': return await this.#patch(req);
      }
    } catch (err) {
      storeError(err, this.def.kind);
    }
  }

  /** resource.lua check_conf: body present, id rules, forbidden timestamps, schema, then the resource's checks. */
  async #checkConf(urlId: string | undefined, conf: unknown, needId: boolean, allowTime: boolean): Promise<{ id: string | undefined; conf: JsonObject }> {
    if (conf === undefined || conf === null) throw adminError('MISSING_CONF');
    // cjson decodes [] and {} to the same empty table, so APISIX stores `[]` as an empty resource; here a body that
    // is not an object is refused (issue 14), `[]` included.
    const notObject = notAnObject(conf);
    if (notObject !== undefined) throw adminError('INVALID_CONF', { reason: notObject });
    const obj = isJsonObject(conf) ? conf : undefined;
    const bodyId = obj !== undefined ? idString(obj.id) : undefined;
    const id = urlId ?? bodyId;
    if (needId && id === undefined) throw adminError('MISSING_ID', { kind: this.def.kind });
    if (!needId && id !== undefined) throw adminError('ID_NOT_NEEDED', { kind: this.def.kind });
    if (needId && bodyId !== undefined && bodyId !== id) throw adminError('WRONG_ID', { kind: this.def.kind });
    if (obj !== undefined && needId && urlId !== undefined) obj.id = urlId;
    if (obj !== undefined && !allowTime) {
      const bad = forbiddenProperty(obj);
      if (bad !== undefined) throw adminError('FORBIDDEN_PROPERTY', { prop: bad });
    }
    const problem = this.def.validate(conf);
    if (problem !== undefined) throw adminError('INVALID_CONF', { reason: problem });
    const checked = conf as JsonObject;
    if (this.def.check) await this.def.check(id ?? '', checked, this.#refs);
    return { id, conf: checked };
  }

  #ttl(query: URLSearchParams): number | undefined {
    const t = query.get('ttl');
    if (t === null) return undefined;
    const n = luaNumber(t);
    if (n === undefined) throw adminError('TTL_NOT_NUMBER');
    return n;
  }

  async #get(id: string): Promise<HandlerResult> {
    const item = await this.#ctx.store.get(this.#key(id));
    if (item === undefined) throw adminError('KEY_NOT_FOUND');
    return { status: 200, body: this.#present(item) };
  }

  async #list(query: URLSearchParams): Promise<HandlerResult> {
    const { items } = await this.#ctx.store.list(`${this.#ctx.prefix}/${this.def.name}/`);
    let list = items.map((i) => this.#present(i));
    const name = query.get('name');
    const label = query.get('label');
    const filter = query.get('filter');
    if (name !== null) {
      let re: RegExp | undefined;
      try { re = new RegExp(name); } catch { re = undefined; }
      list = list.filter((i) => {
        const n = i.value.name;
        return typeof n === 'string' && (re ? re.test(n) : n.includes(name));
      });
    }
    if (label !== null) {
      list = list.filter((i) => isJsonObject(i.value.labels) && Object.hasOwn(i.value.labels, label));
    }
    if (filter !== null) {
      const allowed = this.def.listFilterFields ?? [];
      const conds = [...new URLSearchParams(filter)].filter(([k]) => allowed.includes(k));
      list = list.filter((i) => conds.every(([k, v]) => idString(i.value[k]) === v));
    }
    const total = list.length;
    // v3_adapter.pagination: both must be numbers (tonumber), else there is no paging at all.
    let page = luaNumber(query.get('page') ?? '');
    const size = luaNumber(query.get('page_size') ?? '');
    if (page !== undefined && size !== undefined) {
      if (size < 10 || size > 500) throw adminError('INVALID_PAGE');
      page = page < 1 ? 1 : Math.floor(page);
      list.sort((a, b) => a.createdIndex - b.createdIndex);
      list = list.slice((page - 1) * size, page * size);
    }
    return { status: 200, body: { list, total } };
  }

  #stamp(conf: JsonObject, prev: JsonObject | undefined): void {
    const now = this.#ctx.now();
    const created = prev?.create_time;
    conf.create_time = typeof created === 'number' ? created : now;
    conf.update_time = now;
  }

  async #put(req: ResourceRequest): Promise<HandlerResult> {
    const ttl = this.#ttl(req.query);
    const { id, conf } = await this.#checkConf(req.id, req.hasBody ? req.body : undefined, true, false);
    const key = this.#key(id as string);
    const prev = await this.#ctx.store.get(key);
    this.#stamp(conf, prev?.value);
    const stored = this.def.beforeStore ? this.def.beforeStore(conf) : conf;
    const { item, prev: replaced } = await this.#ctx.store.put(key, stored, { ttl });
    await this.#ctx.published(item.modifiedIndex);
    const shown = this.#present(item);
    return { status: replaced === undefined ? 201 : 200, body: { key: shown.key, value: shown.value } };
  }

  async #post(req: ResourceRequest): Promise<HandlerResult> {
    const ttl = this.#ttl(req.query);
    const { conf } = await this.#checkConf(req.id, req.hasBody ? req.body : undefined, false, false);
    const id = await this.#ctx.store.nextId();
    conf.id = id;
    this.#stamp(conf, undefined);
    const stored = this.def.beforeStore ? this.def.beforeStore(conf) : conf;
    const { item } = await this.#ctx.store.put(this.#key(id), stored, { ttl, expectModifiedIndex: 0 });
    await this.#ctx.published(item.modifiedIndex);
    const shown = this.#present(item);
    return { status: 201, body: { key: shown.key, value: shown.value } };
  }

  async #delete(req: ResourceRequest): Promise<HandlerResult> {
    if (req.id === undefined) throw adminError('MISSING_ID', { kind: this.def.kind });
    if (this.def.deleteCheck && req.query.get('force') !== 'true') await this.def.deleteCheck(req.id, this.#refs);
    const key = this.#key(req.id);
    const gone = await this.#ctx.store.delete(key);
    if (gone === undefined) throw adminError('KEY_NOT_FOUND');
    await this.#ctx.published(gone.revision);
    return { status: 200, body: { deleted: '1', key } };
  }

  async #patch(req: ResourceRequest): Promise<HandlerResult> {
    if (req.id === undefined) throw adminError('MISSING_ID', { kind: this.def.kind });
    const ttl = this.#ttl(req.query);
    if (!req.hasBody) throw adminError('MISSING_NEW_CONF');
    const sub = req.subPath;
    if (sub === '' && !isJsonObject(req.body)) throw adminError('INVALID_PATCH_CONF');
    const key = this.#key(req.id);
    const old = await this.#ctx.store.get(key);
    if (old === undefined) throw adminError('KEY_NOT_FOUND');
    let next: JsonObject;
    if (sub !== '') {
      next = patchSubPath(old.value, sub, req.body as JsonValue);
    } else {
      const patch = req.body as JsonObject;
      next = mergePatch(old.value, patch);
    }
    // Timestamps are the gateway's: a PATCH keeps create_time and sets update_time.
    next.create_time = typeof old.value.create_time === 'number' ? old.value.create_time : this.#ctx.now();
    next.update_time = this.#ctx.now();
    const { conf } = await this.#checkConf(req.id, next, true, true);
    const stored = this.def.beforeStore ? this.def.beforeStore(conf) : conf;
    const { item } = await this.#ctx.store.put(key, stored, { ttl, expectModifiedIndex: old.modifiedIndex });
    await this.#ctx.published(item.modifiedIndex);
    const shown = this.#present(item);
    return { status: 200, body: { key: shown.key, value: shown.value } };
  }
}
