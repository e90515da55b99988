// A stream plugin is a declaration — name, priority, schema (APISIX's), metadata schema — plus small phase functions:
//   compile(conf, env)   once per snapshot, in each worker: strings become compiled values (CIDRs, expressions, keys)
//   preread(c, session)  after the route matched, before the upstream is picked: 'continue' or { end } (a refusal);
//                        may read bounded client bytes, set mqtt_client_id, choose the upstream
//   log(c, record)       after the session ended, with its record
// The registry validates confs against the schema, in APISIX's words, for the Admin API and the snapshot builder
// (so items from etcd or apisix.yaml pass the same checks), and orders the enabled plugins by priority.
import { check, type Schema } from '../lib/jsonschema.ts';
import type { SharedCounts } from '../lib/shared-counts.ts';
import type { AccessRecord } from '../observe/access-log.ts';
import type { Logger } from '../observe/log.ts';
import type { EndReason } from '../dataplane/session/end.ts';

/** What a preread hook returns. */
/** `status`: the session's status in the log and metrics instead of its end reason's (limit-conn's rejected_code). */
export type PluginVerdict = 'continue' | { readonly end: EndReason; readonly status?: number };

/** The session as a preread hook sees it (TCP and UDP alike; the data plane implements it). */
export interface PrereadSession {
  readonly protocol: 'TCP' | 'UDP';
  readonly remoteAddr: string;
  readonly routeId: string;
  /** A session variable (CONTRACT §6), as text; undefined when it has no value yet. */
  variable(name: string): string | undefined;
  /**
   * TCP only: reads client bytes until `enough(all)` says so, `maxBytes` are buffered or `timeoutMs` passes; resolves
   * with every byte read so far (they are relayed to the upstream unchanged), or undefined when the client went away.
   * UDP sessions have no stream to read: undefined at once.
   */
  readClient(enough: (buf: Buffer) => boolean, maxBytes: number, timeoutMs: number): Promise<Buffer | undefined> | undefined;
  setMqttClientId(id: string): void;
  /** Picks the session's upstream by snapshot key (undefined = the route's own); false when that key is unknown. */
  useUpstream(key: string | undefined): boolean;
  /** Runs once when the session ends, however it ends (before the log hooks). */
  onEnd(fn: () => void): void;
}

/** A session's final record, for log hooks: the access-log record plus its variables. */
export interface EndRecord {
  readonly record: AccessRecord;
  variable(name: string): string | undefined;
}

/** Counters plugins bump, read by /sluice/v1/status and the metrics exporter. */
export interface PluginCounters {
  /** Sessions of routes carrying the prometheus plugin, by route label. */
  readonly connectionTotal: Map<string, number>;
  /** Refusals by plugin name. */
  readonly refusals: Map<string, number>;
  limitTableFull: number;
}

/** What a plugin may use when it compiles (per worker, lives across snapshots). */
export interface PluginEnv {
  readonly log: Logger;
  readonly workerId: number;
  /** Gateway-wide counts (limit-conn). */
  readonly counts: SharedCounts;
  readonly counters: PluginCounters;
  /** plugin_metadata/<name> in force (validated), or undefined. */
  metadata(name: string): Readonly<Record<string, unknown>> | undefined;
  /** PEM of apisix.ssl.ssl_trusted_certificate (undefined: Node's CA store), for plugins that verify a server. */
  trustedCa(): string | undefined;
  /** A long-lived resource shared by every snapshot while its key stays the same (a syslog connection). */
  resource<T extends { close(): void }>(key: string, make: () => T): T;
}

/** What compile gets besides the conf: which route, and (traffic-split) the snapshot keys of its upstreams. */
export interface CompileContext {
  readonly routeId: string;
  readonly routeName: string | undefined;
  /** Snapshot upstream keys the control plane resolved for this route's plugin confs (see RouteConf.pluginUpstreams). */
  readonly pluginUpstreams: Readonly<Record<string, string>>;
}

export interface Plugin<Conf = Record<string, unknown>, Compiled = unknown> {
  readonly name: string;
  /** Higher runs first (APISIX's priorities). */
  readonly priority: number;
  readonly schema: Schema;
  /** plugin_metadata/<name> schema; undefined = the plugin takes no metadata. */
  readonly metadataSchema?: Schema;
  /** Checks after the schema passed (APISIX's check_schema beyond core.schema.check); returns the problem. */
  readonly check?: (conf: Record<string, unknown>) => string | undefined;
  readonly compile?: (conf: Conf, env: PluginEnv, ctx: CompileContext) => Compiled;
  readonly preread?: (c: Compiled, s: PrereadSession) => PluginVerdict | Promise<PluginVerdict>;
  readonly log?: (c: Compiled, r: EndRecord) => void;
}

/** Plugins are declared with their own conf and compiled types; the registry holds them erased. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous list of typed declarations
export type AnyPlugin = Plugin<any, any>;

export type PluginCheck = { ok: true } | { ok: false; kind: 'unknown' | 'not_object' | 'invalid'; reason: string };

/** `_meta` as Sluice runs it for stream plugins: `disable` and `priority` act; APISIX's HTTP-only keys are refused. */
const META_SCHEMA: Schema = {
  type: 'object',
  properties: {
    disable: { type: 'boolean' },
    priority: { type: 'integer' },
  },
};
const META_REFUSED = ['filter', 'error_response', 'pre_function'];

function checkMeta(meta: unknown): string | undefined {
  if (meta === undefined) return undefined;
  const err = check(META_SCHEMA, meta);
  if (err !== undefined) return `property "_meta" validation failed: ${err}`;
  for (const k of META_REFUSED) {
    if ((meta as Record<string, unknown>)[k] !== undefined) return `property "_meta.${k}" is not supported for stream plugins`;
  }
  return undefined;
}

/**
 * A top-level key the plugin's schema does not declare (APISIX would store and ignore it): refused, so that no
 * accepted key is silently inert (a typo, or an APISIX key Sluice does not implement).
 */
function unknownKey(p: { readonly name: string; readonly schema: Schema }, conf: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const props = p.schema.properties ?? {};
  for (const k of Object.keys(conf)) {
    if (!Object.hasOwn(props, k) && !allowed.includes(k)) return `property "${k}" is not a ${p.name} setting Sluice implements (known: ${Object.keys(props).join(', ')})`;
  }
  return undefined;
}

export class PluginRegistry {
  readonly #byName: ReadonlyMap<string, AnyPlugin>;
  /** Enabled plugins (in `stream_plugins` and implemented), highest priority first. */
  readonly enabled: readonly AnyPlugin[];

  constructor(all: readonly AnyPlugin[], enabledNames: readonly string[]) {
    const wanted = new Set(enabledNames);
    this.enabled = all.filter((p) => wanted.has(p.name)).sort((a, b) => b.priority - a.priority);
    this.#byName = new Map(this.enabled.map((p) => [p.name, p]));
  }

  names(): string[] {
    return this.enabled.map((p) => p.name);
  }

  get(name: string): AnyPlugin | undefined {
    return this.#byName.get(name);
  }

  /** Validates (and fills defaults into) one plugin conf. */
  checkConf(name: string, conf: unknown): PluginCheck {
    const p = this.#byName.get(name);
    if (p === undefined) return { ok: false, kind: 'unknown', reason: '' };
    // Only a non-table is "invalid plugin conf": an array is a Lua table too, so the schema reports it.
    if (conf === null || typeof conf !== 'object') {
      return { ok: false, kind: 'not_object', reason: JSON.stringify(conf) };
    }
    const obj = conf as Record<string, unknown>;
    const meta = Array.isArray(conf) ? undefined : obj._meta;
    const err = checkMeta(meta) ?? check(p.schema, conf) ?? (Array.isArray(conf) ? undefined : unknownKey(p, obj, ['_meta']) ?? p.check?.(obj));
    if (err !== undefined) return { ok: false, kind: 'invalid', reason: err };
    return { ok: true };
  }

  /** Validates (and fills defaults into) plugin_metadata/<name>. */
  checkMetadata(name: string, conf: unknown): PluginCheck {
    const p = this.#byName.get(name);
    if (p === undefined) return { ok: false, kind: 'unknown', reason: '' };
    if (p.metadataSchema === undefined) return { ok: false, kind: 'invalid', reason: `plugin ${name} takes no metadata` };
    const err = check(p.metadataSchema, conf) ?? (conf !== null && typeof conf === 'object' && !Array.isArray(conf) ? unknownKey({ name: p.name, schema: p.metadataSchema }, conf as Record<string, unknown>, ['id', 'create_time', 'update_time']) : undefined);
    if (err !== undefined) return { ok: false, kind: 'invalid', reason: err };
    return { ok: true };
  }
}
