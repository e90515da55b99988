// traffic-split: picks the session's upstream by rules (apisix/plugins/traffic-split.lua, whose access() the stream
// plugin runs in preread). Rules are tried in order: a rule without `match` takes every session; a rule with `match`
// takes it when any of its `match[].vars` expressions (lua-resty-expr, lib/expr.ts) holds over the session variables.
// The chosen rule's weighted_upstreams are picked by smooth weighted round robin (nginx's; per worker, as APISIX's
// per-worker roundrobin object): an entry's upstream_id or inline upstream (both resolved by the control plane to
// snapshot keys, RouteConf.pluginUpstreams), or — an entry with only a weight — the route's own upstream. No rule
// taken: the route's own upstream. The chosen upstream keeps its own balancer, health checks, retries and timeouts.
// A referenced upstream that is not in the snapshot ends the session 500 (APISIX: "failed to fetch upstream info").
// Expressions are compiled once, here, never per session; the schema is APISIX's (weighted_upstreams default
// [{weight: 1}], 1 to 20 entries), and a bad expression is refused with APISIX's text.
import { compileExpr, type CompiledExpr } from '../lib/expr.ts';
import type { Plugin } from './plugin.ts';

const ID_SCHEMA = { anyOf: [{ type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' }, { type: 'integer', minimum: 1 }] };

interface WeightedConf { upstream_id?: string | number; upstream?: Record<string, unknown>; weight: number }
interface RuleConf { match?: { vars?: unknown }[]; weighted_upstreams: WeightedConf[] }
interface Conf { rules?: RuleConf[] }

/** Smooth weighted round robin over a rule's entries (upstream key, or undefined = the route's own). */
class SmoothRoundRobin {
  readonly #keys: (string | undefined)[];
  readonly #weights: number[];
  readonly #current: number[];
  readonly #total: number;

  constructor(entries: readonly { key: string | undefined; weight: number }[]) {
    const live = entries.filter((e) => e.weight > 0);
    this.#keys = live.map((e) => e.key);
    this.#weights = live.map((e) => e.weight);
    this.#current = live.map(() => 0);
    this.#total = this.#weights.reduce((a, b) => a + b, 0);
  }

  /** The next entry's key (undefined = the route's own upstream); null when every weight is 0. */
  next(): string | undefined | null {
    if (this.#total === 0) return null;
    let best = 0;
    for (let i = 0; i < this.#weights.length; i++) {
      const c = (this.#current[i] as number) + (this.#weights[i] as number);
      this.#current[i] = c;
      if (c > (this.#current[best] as number)) best = i;
    }
    this.#current[best] = (this.#current[best] as number) - this.#total;
    return this.#keys[best];
  }
}

interface CompiledRule {
  /** undefined: the rule has no `match` (takes every session). */
  readonly match: readonly CompiledExpr[] | undefined;
  readonly pick: SmoothRoundRobin;
}

function compileMatch(m: { vars?: unknown }): CompiledExpr {
  const r = compileExpr(m.vars);
  // the Admin API and the snapshot builder checked it (check below); an expression that does not compile never holds
  return r.ok ? r.eval : () => false;
}

export const trafficSplit: Plugin<Conf, readonly CompiledRule[]> = {
  name: 'traffic-split',
  priority: 966,
  schema: {
    type: 'object',
    properties: {
      rules: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            match: { type: 'array', items: { type: 'object', properties: { vars: { type: 'array' } } } },
            weighted_upstreams: {
              type: 'array',
              minItems: 1,
              maxItems: 20,
              default: [{ weight: 1 }],
              items: {
                type: 'object',
                properties: {
                  upstream_id: ID_SCHEMA,
                  upstream: { type: 'object' },
                  weight: { type: 'integer', minimum: 0, default: 1 },
                },
              },
            },
          },
        },
      },
    },
  },
  check(conf) {
    const rules = (conf as Conf).rules ?? [];
    for (const rule of rules) {
      for (const m of rule.match ?? []) {
        const r = compileExpr(m.vars);
        if (!r.ok) return `failed to validate the 'vars' expression: ${r.error}`;
      }
    }
    return undefined;
  },
  compile(conf, _env, ctx) {
    return (conf.rules ?? []).map((rule, r) => ({
      match: rule.match?.map(compileMatch),
      pick: new SmoothRoundRobin(rule.weighted_upstreams.map((wu, i) => ({
        // only a weight: the route's own upstream; otherwise the key the control plane resolved (an unresolved one
        // is a key no snapshot holds, so the session ends 500 as in APISIX)
        key: wu.upstream_id === undefined && wu.upstream === undefined ? undefined : ctx.pluginUpstreams[`${r}/${i}`] ?? `unresolved#${r}/${i}`,
        weight: wu.weight,
      }))),
    }));
  },
  preread(rules, s) {
    const vars = (name: string): string | undefined => s.variable(name);
    // As the Lua loop: an empty `match` list leaves the previous rule's outcome (initially true) in force.
    let passed = true;
    for (const rule of rules) {
      if (rule.match === undefined) passed = true;
      else {
        for (const m of rule.match) {
          passed = m(vars);
          if (passed) break;
        }
      }
      if (!passed) continue;
      const key = rule.pick.next();
      if (key === null) return 'continue'; // no weight anywhere: the route's own upstream
      return s.useUpstream(key) ? 'continue' : { end: 'Internal' };
    }
    return 'continue';
  },
};
