// APISIX's environment substitution in config.yaml (apisix/cli/file.lua, resolve_conf_var): in any string value,
// `${{VAR}}` is the variable's value and `${{VAR:=default}}` falls back to the (trimmed) default when VAR is not
// set; a set but empty variable is used as it is. A value that had a substitution and now reads as a number, `true`
// or `false` becomes that number or boolean (so `port: ${{ADMIN_PORT}}` is a port). Keys are not substituted, and a
// substituted value is not scanned again. A missing variable without a default is an error naming it and where it
// was used; so is a reference that is not a variable name (`${{A-B}}`).

export type PathSeg = string | number;

export class EnvVarError extends Error {
  override readonly name = 'EnvVarError';
  readonly segs: readonly PathSeg[];
  constructor(segs: readonly PathSeg[], message: string) {
    super(message);
    this.segs = segs;
  }
}

// As APISIX's Lua pattern `%$%{%{%s*([%w_]+[%:%=]?.-)%s*%}%}`: a name, then anything up to the first `}}`.
const REF = /\$\{\{\s*([A-Za-z0-9_]+[:=]?[\s\S]*?)\s*\}\}/g;
const NAME = /^[A-Za-z0-9_]+$/;
// Lua's tonumber() on a whole string: decimal (with exponent) or hexadecimal, surrounding spaces allowed.
const LUA_NUMBER = /^\s*(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+)\s*$/;

function substituteString(text: string, env: NodeJS.ProcessEnv, segs: readonly PathSeg[]): string | number | boolean {
  let used = false;
  const out = text.replace(REF, (whole, ref: string) => {
    const at = ref.indexOf(':=');
    const name = at >= 0 ? ref.slice(0, at) : ref;
    if (!NAME.test(name)) throw new EnvVarError(segs, `invalid environment variable reference ${whole} (write \${{NAME}} or \${{NAME:=default}})`);
    const value = env[name] ?? (at >= 0 ? ref.slice(at + 2).trim() : undefined);
    if (value === undefined) throw new EnvVarError(segs, `can't find environment variable ${name} (set it, or give a default: \${{${name}:=value}})`);
    used = true;
    return value;
  });
  if (!used) return text;
  if (LUA_NUMBER.test(out)) return Number(out);
  if (out === 'true') return true;
  if (out === 'false') return false;
  return out;
}

/** `value` with every string substituted (a new tree; `value` is not changed). Throws EnvVarError. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, segs: PathSeg[] = []): unknown {
  if (typeof value === 'string') return value.includes('${{') ? substituteString(value, env, segs) : value;
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...segs, i]));
  // fromEntries defines own properties: a YAML key `__proto__` stays a key (an unknown one) instead of a prototype
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...segs, k])]));
  return value;
}
