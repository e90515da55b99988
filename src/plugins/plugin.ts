// A stream plugin is a declaration: name, priority, schema (APISIX's), and later its phase hooks.
// The registry validates confs against the schema, in APISIX's words, for the Admin API and the snapshot builder.
import { check, type Schema } from '../lib/jsonschema.ts';

export interface Plugin {
  readonly name: string;
  /** Higher runs first (APISIX's priorities). */
  readonly priority: number;
  readonly schema: Schema;
  /** Checks after the schema passed (APISIX's check_schema beyond core.schema.check); returns the problem. */
  readonly check?: (conf: Record<string, unknown>) => string | undefined;
}

export type PluginCheck = { ok: true } | { ok: false; kind: 'unknown' | 'not_object' | 'invalid'; reason: string };

export class PluginRegistry {
  readonly #byName: ReadonlyMap<string, Plugin>;
  /** Enabled plugins (in `stream_plugins` and implemented), highest priority first. */
  readonly enabled: readonly Plugin[];

  constructor(all: readonly Plugin[], enabledNames: readonly string[]) {
    const wanted = new Set(enabledNames);
    this.enabled = all.filter((p) => wanted.has(p.name)).sort((a, b) => b.priority - a.priority);
    this.#byName = new Map(this.enabled.map((p) => [p.name, p]));
  }

  names(): string[] {
    return this.enabled.map((p) => p.name);
  }

  /** Validates (and fills defaults into) one plugin conf. */
  checkConf(name: string, conf: unknown): PluginCheck {
    const p = this.#byName.get(name);
    if (p === undefined) return { ok: false, kind: 'unknown', reason: '' };
    // Only a non-table is "invalid plugin conf": an array is a Lua table too, so the schema reports it.
    if (conf === null || typeof conf !== 'object') {
      return { ok: false, kind: 'not_object', reason: JSON.stringify(conf) };
    }
    const err = check(p.schema, conf) ?? (Array.isArray(conf) ? undefined : p.check?.(conf as Record<string, unknown>));
    if (err !== undefined) return { ok: false, kind: 'invalid', reason: err };
    return { ok: true };
  }
}
