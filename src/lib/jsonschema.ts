// A JSON Schema validator that reports exactly what APISIX's validator (api7/jsonschema, the 3.x wording) reports:
// the same first failure, in the same check order, with the same message text, and with defaults injected into the
// value as it goes. Written by hand because ajv's errors differ in order, nesting and wording (e.g. anyOf gives
// "object matches none of the required", items are 1-based, types use Lua's names), and APISIX users and tests
// compare those texts. Only the keywords APISIX's stream schemas use are supported; an unknown keyword is a
// programming error caught by the unit tests. Lives in lib/ because plugins (both planes) declare schemas too.
import { isIP } from 'node:net';

export interface Schema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | Schema;
  readonly patternProperties?: Readonly<Record<string, Schema>>;
  readonly dependencies?: Readonly<Record<string, readonly string[] | Schema>>;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly items?: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly allOf?: readonly Schema[];
  readonly anyOf?: readonly Schema[];
  readonly oneOf?: readonly Schema[];
  readonly not?: Schema;
  readonly if?: Schema;
  readonly then?: Schema;
  readonly else?: Schema;
  readonly format?: 'ipv4' | 'ipv6';
  readonly default?: unknown;
  readonly description?: string;
  readonly title?: string;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
/** cjson decodes {} and [] to the same empty table, which is both an object and an array in Lua. */
const isEmptyTable = (v: unknown): boolean =>
  (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0);

/** Lua's type() of a decoded JSON value, as the validator prints it. */
function luaType(v: unknown): string {
  if (v === null) return 'userdata';
  if (v === undefined) return 'nil';
  if (typeof v === 'object') return 'table';
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  switch (t) {
    case 'object': return isObj(v) || isEmptyTable(v);
    case 'array': return Array.isArray(v) || isEmptyTable(v);
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: throw new Error(`schema: unknown type ${t}`);
  }
}

/** Lua's %q: wraps in double quotes, escapes backslash, quote and newline. */
function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** LuaJIT's tostring of a number (%.14g). */
function num(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const s = n.toPrecision(14);
  const [mant, exp] = s.split('e');
  const m = mant?.includes('.') === true ? mant.replace(/0+$/, '').replace(/\.$/, '') : (mant ?? s);
  if (exp === undefined) return m;
  const e = Number(exp);
  return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}

const reCache = new Map<string, RegExp>();
function re(p: string): RegExp {
  let r = reCache.get(p);
  if (r === undefined) {
    r = new RegExp(p);
    reCache.set(p, r);
  }
  return r;
}

/** Counts code points, as the Lua library's utf8_len. */
const strLen = (s: string): number => [...s].length;

/** Validates without touching `v` (for anyOf/oneOf/not/if branches). */
function probe(schema: Schema, v: unknown): string | undefined {
  return check(schema, structuredClone(v));
}

/**
 * Validates `v` against `schema`; returns the first failure in APISIX's words, or undefined.
 * Defaults are written into `v` (objects are mutated in place), as APISIX stores them.
 */
export function check(schema: Schema, v: unknown): string | undefined {
  // 1. type
  if (schema.type !== undefined) {
    if (typeof schema.type === 'string') {
      if (!matchesType(v, schema.type)) return `wrong type: expected ${schema.type}, got ${luaType(v)}`;
    } else if (!schema.type.some((t) => matchesType(v, t))) {
      return `wrong type: expected one of ${schema.type.join(', ')}, got ${luaType(v)}`;
    }
  }
  // 2. object
  if (isObj(v)) {
    const props = schema.properties ?? {};
    const required = schema.required ?? [];
    for (const [name, sub] of Object.entries(props)) {
      if (v[name] !== undefined) {
        const err = check(sub, v[name]);
        if (err !== undefined) return `property ${q(name)} validation failed: ${err}`;
        const dep = schema.dependencies?.[name];
        if (dep !== undefined) {
          const derr = checkDependency(name, dep, v);
          if (derr !== undefined) return derr;
        }
      } else if (required.includes(name)) {
        return `property ${q(name)} is required`;
      } else if (sub.default !== undefined) {
        v[name] = structuredClone(sub.default);
      }
    }
    for (const name of required) if (!(name in props) && v[name] === undefined) return `property ${q(name)} is required`;
    for (const [name, dep] of Object.entries(schema.dependencies ?? {})) {
      if (name in props || v[name] === undefined) continue;
      const derr = checkDependency(name, dep, v);
      if (derr !== undefined) return derr;
    }
    if (schema.patternProperties !== undefined || schema.additionalProperties !== undefined) {
      for (const key of Object.keys(v)) {
        let matched = false;
        for (const [pat, sub] of Object.entries(schema.patternProperties ?? {})) {
          if (!re(pat).test(key)) continue;
          matched = true;
          const err = check(sub, v[key]);
          if (err !== undefined) return `failed to validate ${key} (matching ${q(pat)}): ${err}`;
        }
        if (matched || key in props) continue;
        const ap = schema.additionalProperties;
        if (ap === false) return `additional properties forbidden, found ${key}`;
        if (ap !== undefined && ap !== true) {
          const err = check(ap, v[key]);
          if (err !== undefined) return `failed to validate additional property ${key}: ${err}`;
        }
      }
    }
    const n = Object.keys(v).length;
    if (schema.minProperties !== undefined && n < schema.minProperties) return `expect object to have at least ${schema.minProperties} properties`;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) return `expect object to have at most ${schema.maxProperties} properties`;
  }
  // 3. array
  if (Array.isArray(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) return `expect array to have at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && v.length > schema.maxItems) return `expect array to have at most ${schema.maxItems} items`;
    if (schema.items !== undefined) {
      for (let i = 0; i < v.length; i++) {
        const err = check(schema.items, v[i]);
        if (err !== undefined) return `failed to validate item ${i + 1}: ${err}`;
      }
    }
    if (schema.uniqueItems === true) {
      for (let i = 0; i < v.length; i++) {
        for (let j = i + 1; j < v.length; j++) {
          if (deepEqual(v[i], v[j])) return `expected unique items but items ${i + 1} and ${j + 1} are equal`;
        }
      }
    }
  }
  // 4. string
  if (typeof v === 'string') {
    const len = strLen(v);
    if (schema.minLength !== undefined && len < schema.minLength) return `string too short, expected at least ${schema.minLength}, got ${len}`;
    if (schema.maxLength !== undefined && len > schema.maxLength) return `string too long, expected at most ${schema.maxLength}, got ${len}`;
    if (schema.pattern !== undefined && !re(schema.pattern).test(v)) return `failed to match pattern ${q(schema.pattern)} with ${q(v)}`;
  }
  // 5. number
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) return `expected ${num(v)} to be at least ${num(schema.minimum)}`;
    if (schema.exclusiveMinimum !== undefined && v <= schema.exclusiveMinimum) return `expected ${num(v)} to be greater than ${num(schema.exclusiveMinimum)}`;
    if (schema.maximum !== undefined && v > schema.maximum) return `expected ${num(v)} to be at most ${num(schema.maximum)}`;
    if (schema.exclusiveMaximum !== undefined && v >= schema.exclusiveMaximum) return `expected ${num(v)} to be smaller than ${num(schema.exclusiveMaximum)}`;
  }
  // 6. enum
  if (schema.enum !== undefined && !schema.enum.some((e) => deepEqual(e, v))) return 'matches none of the enum values';
  // 7. allOf
  if (schema.allOf !== undefined) {
    for (let i = 0; i < schema.allOf.length; i++) {
      const err = check(schema.allOf[i] as Schema, v);
      if (err !== undefined) return `allOf ${i + 1} failed: ${err}`;
    }
  }
  // 8. anyOf: the first matching branch is applied for real (its defaults land in v)
  if (schema.anyOf !== undefined) {
    const hit = schema.anyOf.find((s) => probe(s, v) === undefined);
    if (hit === undefined) {
      const reqs = schema.anyOf.filter((s) => s.required !== undefined).map((s) => JSON.stringify(s.required));
      return `object matches none of the required${reqs.length > 0 ? `: ${reqs.join(' or ')}` : ''}`;
    }
    check(hit, v);
  }
  // 9. oneOf
  if (schema.oneOf !== undefined) {
    const matched: number[] = [];
    schema.oneOf.forEach((s, i) => { if (probe(s, v) === undefined) matched.push(i + 1); });
    if (matched.length === 0) return 'value should match only one schema, but matches none';
    if (matched.length > 1) return `value should match only one schema, but matches both schemas ${matched[0]} and ${matched[1]}`;
    check(schema.oneOf[(matched[0] as number) - 1] as Schema, v);
  }
  // 10. if / then / else
  if (schema.if !== undefined) {
    if (probe(schema.if, v) === undefined) {
      if (schema.then !== undefined && check(schema.then, v) !== undefined) return 'then clause did not match';
    } else if (schema.else !== undefined && check(schema.else, v) !== undefined) {
      return 'else clause did not match';
    }
  }
  // 11. not
  if (schema.not !== undefined && probe(schema.not, v) === undefined) return "value wasn't supposed to match schema";
  // 13. format (strings only)
  if (schema.format !== undefined && typeof v === 'string') {
    const fam = schema.format === 'ipv4' ? 4 : 6;
    if (isIP(v) !== fam) return `expect valid ${schema.format} address but got: ${v}`;
  }
  // 14. const
  if (schema.const !== undefined && !deepEqual(schema.const, v)) return 'failed to check const value';
  return undefined;
}

function checkDependency(name: string, dep: readonly string[] | Schema, v: Obj): string | undefined {
  if (Array.isArray(dep)) {
    for (const d of dep as readonly string[]) if (v[d] === undefined) return `property ${q(d)} is required when ${q(name)} is set`;
    return undefined;
  }
  const err = check(dep as Schema, v);
  return err === undefined ? undefined : `failed to validate dependent schema for ${q(name)}: ${err}`;
}
