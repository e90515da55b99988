// limit-conn: concurrent sessions per key, gateway-wide (every worker shares one bounded table, lib/shared-counts.ts).
// Schema and semantics as APISIX's (stream/plugins/limit-conn.lua over plugins/limit-conn/init.lua and
// resty.limit.conn): up to `conn` sessions pass; up to `conn + burst` wait floor((n - 1) / conn) * default_conn_delay
// seconds first; more are refused with 503. The key is a session variable (`key_type: var`) or a `$var` template
// (`var_combination`); an empty key falls back to remote_addr. The count drops when the session ends, however it ends
// (and when its worker dies). Counters are per route and per conf: a changed conf starts counting afresh, as APISIX's
// key (resource key + conf version) does, while sessions admitted under the old conf release the old count.
// `only_use_default_delay`: in APISIX's stream subsystem the delay always is the default one (resty.limit.conn adapts
// it only from HTTP request latencies), so the flag is accepted and has the same effect there as here: none.
// allow_degradation: when the shared table has no room for a new key, the session passes instead of a 500.
import type { SharedCounts } from '../lib/shared-counts.ts';
import type { Plugin, PluginCounters } from './plugin.ts';

interface Conf {
  conn: number;
  burst: number;
  default_conn_delay: number;
  only_use_default_delay: boolean;
  key_type: 'var' | 'var_combination';
  key: string;
  allow_degradation: boolean;
  rejected_code: number;
}

interface Limit {
  readonly max: number;
  readonly conn: number;
  readonly delayMs: number;
  /** Prefix of every counter key: route and conf. */
  readonly scope: string;
  readonly key: (v: (name: string) => string | undefined) => string | undefined;
  readonly degrade: boolean;
  /** The refused session's status (rejected_code). */
  readonly rejectedCode: number;
  readonly counts: SharedCounts;
  readonly workerId: number;
  readonly counters: PluginCounters;
}

/** `$a-$b` templates: parts and variable names, resolved per session; undefined when no variable had a value. */
function compileCombination(tpl: string): (v: (name: string) => string | undefined) => string | undefined {
  const parts: (string | { name: string })[] = [];
  const re = /\$(?:\{(\w+)\}|(\w+))/g;
  let last = 0;
  for (let m = re.exec(tpl); m !== null; m = re.exec(tpl)) {
    if (m.index > last) parts.push(tpl.slice(last, m.index));
    parts.push({ name: m[1] ?? m[2] ?? '' });
    last = m.index + m[0].length;
  }
  if (last < tpl.length) parts.push(tpl.slice(last));
  return (v) => {
    let out = '';
    let resolved = 0;
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const x = v(p.name);
        if (x !== undefined) {
          resolved++;
          out += x;
        }
      }
    }
    return resolved === 0 ? undefined : out;
  };
}

export const limitConn: Plugin<Conf, Limit> = {
  name: 'limit-conn',
  priority: 1003,
  schema: {
    type: 'object',
    properties: {
      conn: { type: 'integer', exclusiveMinimum: 0 },
      burst: { type: 'integer', minimum: 0 },
      default_conn_delay: { type: 'number', exclusiveMinimum: 0 },
      only_use_default_delay: { type: 'boolean', default: false },
      key_type: { type: 'string', enum: ['var', 'var_combination'], default: 'var' },
      key: { type: 'string' },
      allow_degradation: { type: 'boolean', default: false },
      // APISIX's status for a refused session: the access log's $status and apisix_stream_status's code
      rejected_code: { type: 'integer', minimum: 200, maximum: 599, default: 503 },
      // APISIX's local counting only (its redis policies need a redis the gateway shares)
      policy: { type: 'string', enum: ['local'], default: 'local' },
      rejected_msg: { type: 'string', minLength: 1 },
    },
    required: ['conn', 'burst', 'default_conn_delay', 'key'],
  },
  check: (conf) => (conf.rejected_msg !== undefined ? 'rejected_msg: a refused stream session is closed without a reply; there is no message to send' : undefined),
  compile(c, env, ctx) {
    const { _meta: _ignored, ...own } = c as Conf & { _meta?: unknown };
    const name = c.key;
    return {
      max: c.conn + c.burst,
      conn: c.conn,
      delayMs: c.default_conn_delay * 1000,
      scope: `stream_routes/${ctx.routeId}:${JSON.stringify(own)}:`,
      key: c.key_type === 'var_combination' ? compileCombination(c.key) : (v) => v(name),
      degrade: c.allow_degradation,
      rejectedCode: c.rejected_code,
      counts: env.counts,
      workerId: env.workerId,
      counters: env.counters,
    };
  },
  preread(l, s) {
    const v = (n: string): string | undefined => s.variable(n);
    const raw = l.key(v);
    const key = l.scope + (raw === undefined || raw === '' ? s.remoteAddr : raw);
    const r = l.counts.incoming(key, l.max, l.workerId);
    if (!r.ok) {
      if (r.why === 'rejected') return { end: 'LimitReached', status: l.rejectedCode };
      l.counters.limitTableFull++;
      return l.degrade ? 'continue' : { end: 'Internal' };
    }
    s.onEnd(() => l.counts.leaving(key, l.workerId));
    if (r.count <= l.conn) return 'continue';
    const ms = l.delayMs * Math.floor((r.count - 1) / l.conn);
    return ms < 1 ? 'continue' : new Promise((resolve) => setTimeout(() => resolve('continue'), ms));
  },
};

