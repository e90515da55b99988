// A logger plugin's `log_format` (syslog's conf or plugin metadata), as APISIX's log-util gen_log_format /
// build_log_entry: compiled once, rendered per record into the object the plugin JSON-encodes.
//   - a string whose first character is `$` names a variable: the rest of the string, whole. There is no template
//     syntax (log-util does not call core.utils.resolve_var): `$a$b` looks up the variable `a$b` and `${a}` the
//     variable `{a}`, which no session has, and `$` alone looks up ``. A variable without a value leaves its key
//     out (Lua: `entry[k] = nil`).
//   - an object or array is a nested format, to MAX_DEPTH levels counting the top one; deeper tables render as `{}`.
//   - anything else (other strings, numbers, booleans, null) is copied as is.
// cjson encodes what Lua holds, so two shapes are copied: an array loses its missing trailing items (a Lua array
// ends at its last non-nil item; a missing item in the middle encodes as null, as JSON.stringify writes it), and an
// empty table is `{}` (cjson's encode_empty_table_as_object), so `[]` or an array whose variables are all missing
// renders as `{}`.
// get_custom_format_log then sets route_id and service_id from the matched route: pass `route` to do the same (the
// format's own `service_id` key goes away when the route has no service, as in APISIX).

/** log-util's MAX_LOG_FORMAT_DEPTH. */
export const MAX_DEPTH = 5;

export type VarLookup = (name: string) => string | number | undefined;

export interface MatchedRoute {
  readonly id: string;
  readonly serviceId: string | undefined;
}

type Node =
  | { readonly kind: 'var'; readonly key: string; readonly name: string }
  | { readonly kind: 'lit'; readonly key: string; readonly value: unknown }
  | { readonly kind: 'obj'; readonly key: string; readonly sub: Compiled };

interface Compiled {
  readonly array: boolean;
  readonly nodes: readonly Node[];
}

const EMPTY: Compiled = { array: false, nodes: [] };

function compile(fmt: object, depth: number): Compiled {
  const nodes: Node[] = [];
  for (const [key, v] of Object.entries(fmt)) {
    if (v !== null && typeof v === 'object') {
      nodes.push({ kind: 'obj', key, sub: depth >= MAX_DEPTH ? EMPTY : compile(v as object, depth + 1) });
    } else if (typeof v === 'string' && v.startsWith('$')) {
      nodes.push({ kind: 'var', key, name: v.slice(1) });
    } else {
      nodes.push({ kind: 'lit', key, value: v });
    }
  }
  return { array: Array.isArray(fmt), nodes };
}

function render(c: Compiled, lookup: VarLookup): unknown {
  if (c.array) {
    const out: unknown[] = [];
    let last = -1;
    for (let i = 0; i < c.nodes.length; i++) {
      const v = value(c.nodes[i] as Node, lookup);
      out.push(v);
      if (v !== undefined) last = i;
    }
    out.length = last + 1;
    return last < 0 ? {} : out;
  }
  const out: Record<string, unknown> = {};
  for (const n of c.nodes) {
    const v = value(n, lookup);
    // an own property: a key `__proto__` (JSON.parse makes one) stays a key instead of setting the prototype
    if (v !== undefined) Object.defineProperty(out, n.key, { value: v, writable: true, enumerable: true, configurable: true });
  }
  return out;
}

function value(n: Node, lookup: VarLookup): unknown {
  switch (n.kind) {
    case 'var': return lookup(n.name);
    case 'lit': return n.value;
    case 'obj': return render(n.sub, lookup);
  }
}

/** Compiles `fmt` once; the returned function builds one record's entry. */
export function compileLogFormat(fmt: Record<string, unknown>): (lookup: VarLookup, route?: MatchedRoute) => Record<string, unknown> {
  // the top level is an object even when the schema let an empty array through
  const top: Compiled = { array: false, nodes: compile(fmt, 1).nodes };
  return (lookup, route) => {
    const entry = render(top, lookup) as Record<string, unknown>;
    if (route !== undefined) {
      if (route.serviceId !== undefined) entry.service_id = route.serviceId;
      else delete entry.service_id;
      entry.route_id = route.id;
    }
    return entry;
  };
}
