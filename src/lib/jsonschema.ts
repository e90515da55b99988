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

/**
 * For a whole resource body: why it is not an object (APISIX's words: "wrong type: expected object, got table" for
 * an array), or undefined. Unlike a nested value, a top-level `[]` is not read as the empty table: it is refused
 * too (issue 14), where APISIX would store it as an empty resource.
 */
export function notAnObject(v: unknown): string | undefined {
  return isObj(v) ? undefined : `wrong type: expected object, got ${luaType(v)}`;
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

/**
 * LuaJIT's %q: wraps in double quotes; `"`, `\\` and newline get a backslash (the newline stays a newline); other
 * control characters become `\\` + their decimal code (3 digits when a digit follows or the code is >= 100).
 */
function q(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\' || ch === '\n') {
      out += '\\' + ch;
    } else if (c < 32 || c === 127) {
      const next = s.charCodeAt(i + 1);
      const digitNext = next >= 48 && next <= 57;
      out += '\\' + (c >= 100 || digitNext ? String(c).padStart(3, '0') : String(c));
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** LuaJIT's tostring of a number: C's %.14g (exponent form below 1e-4 and from 1e14 on; "inf", "nan", "-0"). */
function num(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Object.is(n, -0)) return '-0';
  const [mant = '', expText = '0'] = n.toExponential(13).split('e');
  const x = Number(expText);
  const strip = (t: string): string => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
  if (x < -4 || x >= 14) return `${strip(mant)}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  return strip(n.toFixed(13 - x));
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

/**
 * The first pair of equal items, 1-based, as the Lua library finds it: scalars in one forward pass (the first index
 * of the value, then the index of its first repeat), then objects and arrays pairwise.
 */
function duplicate(a: readonly unknown[]): [number, number] | undefined {
  const seen = new Map<unknown, number>();
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x !== null && typeof x === 'object') continue;
    const first = seen.get(x);
    if (first !== undefined) return [first + 1, i + 1];
    seen.set(x, i);
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] === null || typeof a[i] !== 'object') continue;
    for (let j = i + 1; j < a.length; j++) {
      if (a[j] !== null && typeof a[j] === 'object' && deepEqual(a[i], a[j])) return [i + 1, j + 1];
    }
  }
  return undefined;
}

/**
 * After a value passed `sub`: an empty [] where `sub` wants an object becomes {}, an empty {} where it wants an
 * array becomes [] (cjson decodes both to the same empty table, so APISIX accepts either; the stored value keeps
 * the type the data plane expects).
 */
function fitEmpty(sub: Schema, x: unknown): unknown {
  if (sub.type === 'object' && Array.isArray(x) && x.length === 0) return {};
  if (sub.type === 'array' && isObj(x) && Object.keys(x).length === 0) return [];
  return x;
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
  // 2. object (an empty [] is an empty Lua table too: its checks run against a scratch {}, whose defaults are dropped)
  const o = isObj(v) ? v : Array.isArray(v) && v.length === 0 ? {} : undefined;
  if (o !== undefined) {
    const props = schema.properties ?? {};
    const required = schema.required ?? [];
    for (const [name, sub] of Object.entries(props)) {
      if (o[name] !== undefined) {
        const err = check(sub, o[name]);
        if (err !== undefined) return `property ${q(name)} validation failed: ${err}`;
        o[name] = fitEmpty(sub, o[name]);
        const dep = schema.dependencies?.[name];
        if (dep !== undefined) {
          const derr = checkDependency(name, dep, o);
          if (derr !== undefined) return derr;
        }
      } else if (required.includes(name)) {
        return `property ${q(name)} is required`;
      } else if (sub.default !== undefined) {
        o[name] = structuredClone(sub.default);
      }
    }
    for (const name of required) if (!Object.hasOwn(props, name) && o[name] === undefined) return `property ${q(name)} is required`;
    for (const [name, dep] of Object.entries(schema.dependencies ?? {})) {
      if (Object.hasOwn(props, name) || o[name] === undefined) continue;
      const derr = checkDependency(name, dep, o);
      if (derr !== undefined) return derr;
    }
    if (schema.patternProperties !== undefined || schema.additionalProperties !== undefined) {
      for (const key of Object.keys(o)) {
        let matched = false;
        for (const [pat, sub] of Object.entries(schema.patternProperties ?? {})) {
          if (!re(pat).test(key)) continue;
          matched = true;
          const err = check(sub, o[key]);
          if (err !== undefined) return `failed to validate ${key} (matching ${q(pat)}): ${err}`;
        }
        if (matched || Object.hasOwn(props, key)) continue;
        const ap = schema.additionalProperties;
        if (ap === false) return `additional properties forbidden, found ${key}`;
        if (ap !== undefined && ap !== true) {
          const err = check(ap, o[key]);
          if (err !== undefined) return `failed to validate additional property ${key}: ${err}`;
        }
      }
    }
    const n = Object.keys(o).length;
    if (schema.minProperties !== undefined && n < schema.minProperties) return `expect object to have at least ${schema.minProperties} properties`;
    if (schema.maxProperties !== undefined && n > schema.maxProperties) return `expect object to have at most ${schema.maxProperties} properties`;
  }
  // 3. array (an empty {} is an empty Lua table too)
  const a = Array.isArray(v) ? v : isObj(v) && Object.keys(v).length === 0 ? [] : undefined;
  if (a !== undefined) {
    if (schema.minItems !== undefined && a.length < schema.minItems) return `expect array to have at least ${schema.minItems} items`;
    if (schema.maxItems !== undefined && a.length > schema.maxItems) return `expect array to have at most ${schema.maxItems} items`;
    if (schema.items !== undefined) {
      for (let i = 0; i < a.length; i++) {
        const err = check(schema.items, a[i]);
        if (err !== undefined) return `failed to validate item ${i + 1}: ${err}`;
        a[i] = fitEmpty(schema.items, a[i]);
      }
    }
    if (schema.uniqueItems === true) {
      const dup = duplicate(a);
      if (dup !== undefined) return `expected unique items but items ${dup[0]} and ${dup[1]} are equal`;
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
