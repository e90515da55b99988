// Loads config.yaml: yaml (keeping positions) → ${{VAR}} substitution (env-vars.ts) → JSON Schema with defaults (ajv)
// → listener entries → frozen Config.
// Every error names the file, the line of the offending key (a list entry's own line), the key path with 0-based
// indexes, and the problem: `conf/config.yaml:7: apisix.stream_proxy.tcp[1]: invalid stream_proxy.tcp entry: ...`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Config, ListenerSpec, LoadedConfig } from '../../model/config.ts';
import { deepFreeze } from '../../lib/freeze.ts';
import { compileCidr } from '../../lib/ip.ts';
import { ListenerEntryError, listenerAddr, parseListenerEntry } from './listeners.ts';
import { EnvVarError, substituteEnv, type PathSeg } from './env-vars.ts';
import { ConfigError, formatPath } from './errors.ts';
import { checkApisixKeys } from './inert-keys.ts';

export { ConfigError, formatPath };
import { configSchema, NGINX_CONFIG_KNOWN } from './schema.ts';



// verbose: errors carry their schema, so an anyOf can be described by its branches.
const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: false, verbose: true });
const validate = ajv.compile(configSchema);


/** Line (1-based) of the node at `segs`; for a map key, the key's own line; falls back to the nearest parent. */
function lineOf(doc: Document, lc: LineCounter, segs: readonly PathSeg[]): number {
  let node: unknown = doc.contents;
  let best = 1;
  const at = (n: unknown): void => {
    const r = (n as Node | null)?.range ?? undefined;
    if (r !== undefined) best = lc.linePos(r[0]).line;
  };
  at(node);
  for (const seg of segs) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) return best;
      at(pair.key);
      node = pair.value;
      if (node !== null && isSeq(node) === false && isMap(node) === false) at(node);
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) return best;
      at(node);
    } else {
      return best;
    }
  }
  return best;
}

function ajvPath(e: ErrorObject): PathSeg[] {
  if (e.instancePath === '') return [];
  return e.instancePath.slice(1).split('/').map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(k) ? Number(k) : k;
  });
}

function describe(e: ErrorObject): { extra: PathSeg[]; problem: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { extra: [String(p.additionalProperty)], problem: 'unknown key' };
    case 'required':
      return { extra: [], problem: `missing required key "${String(p.missingProperty)}"` };
    case 'type':
      return { extra: [], problem: `expected ${String(p.type)}` };
    case 'enum':
      return { extra: [], problem: `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { extra: [], problem: `must be ${String(p.comparison)} ${String(p.limit)}` };
    case 'minLength':
      return { extra: [], problem: `must be at least ${String(p.limit)} characters long` };
    case 'minItems':
      return { extra: [], problem: `must have at least ${String(p.limit)} entries` };
    case 'pattern':
      return { extra: [], problem: `must match ${String(p.pattern)}` };
    case 'anyOf':
      return { extra: [], problem: describeAnyOf(e.schema) };
    default:
      return { extra: [], problem: e.message ?? 'is invalid' };
  }
}

/** One anyOf branch in words: `"auto"`, `an integer from 1 to 64`, `a string`. */
function describeBranch(s: unknown): string | undefined {
  if (s === null || typeof s !== 'object') return undefined;
  const b = s as { const?: unknown; enum?: unknown[]; type?: unknown; minimum?: unknown; maximum?: unknown };
  if ('const' in b) return JSON.stringify(b.const);
  if (Array.isArray(b.enum)) return b.enum.map((v) => JSON.stringify(v)).join(' or ');
  if (typeof b.type !== 'string') return undefined;
  const noun = `${/^[aeiou]/.test(b.type) ? 'an' : 'a'} ${b.type}`;
  if (typeof b.minimum === 'number' && typeof b.maximum === 'number') return `${noun} from ${b.minimum} to ${b.maximum}`;
  if (typeof b.minimum === 'number') return `${noun} >= ${b.minimum}`;
  return noun;
}

function describeAnyOf(schema: unknown): string {
  const words = Array.isArray(schema) ? schema.map(describeBranch) : [];
  if (words.length === 0 || words.some((w) => w === undefined)) return 'has an invalid value';
  return `must be ${words.join(' or ')}`;
}

/**
 * ajv reports the errors of every anyOf branch before the anyOf itself, and the first branch's error alone is
 * misleading (`workers: abc` is not only "expected integer": "auto" is fine too). Report the outermost anyOf instead.
 */
function pickError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  const first = errors[0];
  if (first === undefined) return undefined;
  for (let i = errors.length - 1; i > 0; i--) {
    const e = errors[i];
    if (e?.keyword === 'anyOf' && first.schemaPath.startsWith(`${e.schemaPath}/`)) return e;
  }
  return first;
}

function relFile(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export interface LoadOptions {
  /** The config file; default <prefix>/conf/config.yaml. */
  readonly file?: string | undefined;
  /** Base for relative paths in the config; default the current directory. */
  readonly prefix?: string | undefined;
  /** Text to parse instead of reading the file (tests). */
  readonly text?: string | undefined;
  /** The environment `${{VAR}}` reads (default process.env). */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const prefix = path.resolve(opts.prefix ?? process.cwd());
  const abs = path.resolve(prefix, opts.file ?? 'conf/config.yaml');
  const shown = opts.file !== undefined && !path.isAbsolute(opts.file) ? opts.file : relFile(abs);
  let text: string;
  if (opts.text !== undefined) {
    text = opts.text;
  } else {
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      throw new ConfigError(shown, 0, '', `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return parseConfig(text, shown, prefix, opts.env);
}

export function parseConfig(text: string, file: string, prefix: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = first.linePos?.[0]?.line ?? lc.linePos(first.pos[0]).line;
    throw new ConfigError(file, line, '', `invalid YAML: ${first.message.split('\n')[0] ?? first.code}`);
  }
  let raw: unknown;
  // an alias without its anchor, or past yaml's maxAliasCount (a "billion laughs" file), throws a ReferenceError
  try { raw = doc.toJS() ?? {}; } catch (err) { throw err instanceof ReferenceError ? new ConfigError(file, 1, '', `invalid YAML: ${err.message}`) : err; }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, 1, '', 'expected a mapping at the top level');
  }
  try {
    raw = substituteEnv(raw, env);
  } catch (err) {
    if (!(err instanceof EnvVarError)) throw err;
    throw new ConfigError(file, lineOf(doc, lc, err.segs), formatPath(err.segs), err.message);
  }
  if (!validate(raw)) {
    const e = pickError(validate.errors ?? []);
    if (e === undefined) throw new ConfigError(file, 1, '', 'invalid configuration');
    const { extra, problem } = describe(e);
    const segs = [...ajvPath(e), ...extra];
    throw new ConfigError(file, lineOf(doc, lc, segs), formatPath(segs), problem);
  }
  const config = raw as Config;
  const warnings: string[] = [];

  // nginx_config: what Sluice does not implement is warned about and ignored (CONTRACT §2).
  const nginx = (raw as { nginx_config: Record<string, unknown> }).nginx_config;
  for (const [k, v] of Object.entries(nginx)) {
    const known = Object.hasOwn(NGINX_CONFIG_KNOWN, k) ? NGINX_CONFIG_KNOWN[k] : undefined; // not `constructor`'s
    if (known === undefined) {
      warnings.push(`${file}:${lineOf(doc, lc, ['nginx_config', k])}: nginx_config.${k}: not supported by Sluice, ignored`);
      continue;
    }
    if (v !== null && typeof v === 'object') {
      for (const kk of Object.keys(v)) {
        if (!known.includes(kk)) {
          warnings.push(`${file}:${lineOf(doc, lc, ['nginx_config', k, kk])}: nginx_config.${k}.${kk}: not supported by Sluice, ignored`);
        }
      }
    }
  }

  checkApisixKeys(raw as Record<string, unknown>, file, (segs) => lineOf(doc, lc, segs), warnings);
  // apisix.enable_ipv6: false: listeners given by port only bind IPv4 only (APISIX: no `listen [::]:port`)
  const ipv4Only = config.apisix.enable_ipv6 === false;

  const listeners: ListenerSpec[] = [];
  const seen = new Map<string, string>();
  for (const proto of ['tcp', 'udp'] as const) {
    const entries = config.apisix.stream_proxy?.[proto] ?? [];
    entries.forEach((entry, i) => {
      const segs: PathSeg[] = ['apisix', 'stream_proxy', proto, i];
      const line = lineOf(doc, lc, segs);
      try {
        for (const parsed of parseListenerEntry(entry, proto, `${file}:${line}`)) {
          const l = ipv4Only && parsed.host === null ? { ...parsed, host: '0.0.0.0' } : parsed;
          const id = `${proto} ${listenerAddr(l)}`;
          const before = seen.get(id);
          if (before !== undefined) throw new ListenerEntryError(`duplicate listener ${listenerAddr(l)} (also at ${before})`);
          seen.set(id, `${file}:${line}`);
          listeners.push(l);
        }
      } catch (err) {
        if (!(err instanceof ListenerEntryError)) throw err;
        const keySegs = err.key !== undefined ? [...segs, err.key] : segs;
        throw new ConfigError(file, lineOf(doc, lc, keySegs), formatPath(segs), `invalid stream_proxy.${proto} entry: ${err.message}`);
      }
    });
  }
  const keys = config.deployment.admin.admin_key;
  const names = new Set<string>();
  keys.forEach((k, i) => {
    if (names.has(k.key)) {
      throw new ConfigError(file, lineOf(doc, lc, ['deployment', 'admin', 'admin_key', i, 'key']), `deployment.admin.admin_key[${i}].key`, 'duplicate admin key');
    }
    names.add(k.key);
  });

  // real_ip_from: IPs or CIDRs (workers compile them; a bad entry must fail here, with its line).
  config.nginx_config.stream.real_ip_from.forEach((c, i) => {
    if (compileCidr(c) === undefined) {
      throw new ConfigError(file, lineOf(doc, lc, ['nginx_config', 'stream', 'real_ip_from', i]), `nginx_config.stream.real_ip_from[${i}]`, `invalid IP or CIDR: ${c}`);
    }
  });

  const mode = config.apisix.proxy_mode;
  const streamEnabled = (mode === 'stream' || mode === 'http&stream') && config.apisix.stream_proxy !== undefined;
  if (mode !== 'http' && config.apisix.stream_proxy === undefined) {
    warnings.push(`${file}:${lineOf(doc, lc, ['apisix', 'proxy_mode'])}: apisix.proxy_mode: "${mode}" without apisix.stream_proxy: stream routes stay disabled`);
  }
  const loaded = deepFreeze({ config, listeners, file, prefix, warnings, streamEnabled });
  locators.set(loaded, (segs) => lineOf(doc, lc, segs));
  return loaded;
}

// Checks made after loading (safety.ts) name a line too; the parsed document stays reachable only through this map.
const locators = new WeakMap<LoadedConfig, (segs: readonly PathSeg[]) => number>();

/** Line of the key at `segs` in the file `loaded` came from; the nearest parent's when the key is not written there. */
export function lineOfKey(loaded: LoadedConfig, segs: readonly PathSeg[]): number {
  return locators.get(loaded)?.(segs) ?? 1;
}
