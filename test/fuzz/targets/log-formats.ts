// Fuzzes the two log template compilers. compileFormat (src/observe/access-log.ts, nginx_config.stream's
// access_log_format: `$var` / `${var}` with `default` or `json` escaping): formats built from the real variables,
// unknown ones, broken references and literal text, text mutations of those and random text, rendered against random
// AccessRecords whose strings hold quotes, control characters, Latin-1, astral characters and lone surrogates.
// compileLogFormat (src/observe/log-format.ts, syslog's log_format: any JSON object, which is all its schema asks):
// nested objects and arrays of `$var` strings and literals, deeper than MAX_DEPTH, with keys like `__proto__`,
// rendered with a random variable lookup and route. Checked: compiling never throws; `unknown` names only unknown
// variables; a render is deterministic; a variable escaped `json` reads back through JSON.parse as its value; one
// escaped `default` is printable ASCII whose \xHH bytes decode back to it (a character up to U+00FF as its byte,
// the others as UTF-8); a log_format entry is plain data equal to a reference rendering of the documented rules.
import fc from 'fast-check';
import { compileFormat, recordVariable, type AccessRecord } from '../../../src/observe/access-log.ts';
import { compileLogFormat, MAX_DEPTH, type MatchedRoute } from '../../../src/observe/log-format.ts';
import { json, mutatedText, type FuzzTarget } from '../harness.ts';

const VARS = ['remote_addr', 'remote_port', 'server_addr', 'server_port', 'protocol', 'status', 'bytes_sent', 'bytes_received',
  'session_time', 'time_local', 'time_iso8601', 'msec', 'upstream_addr', 'ssl_server_name', 'route_id', 'service_id',
  'realip_remote_addr', 'mqtt_client_id', 'sluice_end_reason'];
const ODD = ['$', '$$', '${', '${}', '${remote_addr', '$1', '$-', '$foo', '${bar}', '$remote_addr_x', ' ', '"', '\\', '\n', 'é', '😀', '\ud800'];
/** Each text variable alone, compiled once per escape: their output is checked against recordVariable. */
const TEXT_VARS = ['remote_addr', 'server_addr', 'upstream_addr', 'ssl_server_name', 'route_id', 'service_id', 'realip_remote_addr', 'mqtt_client_id', 'sluice_end_reason'];
const ALONE = TEXT_VARS.map((v) => ({ v, json: compileFormat(`$${v}`, 'json').render, plain: compileFormat(`\${${v}}`, 'default').render }));

const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '"', '\\', '\t', '\x7f', 'é', 'ÿ', 'Ā', '€', '😀', '\ud800', '\udc00'), maxLength: 12 });
const part = fc.oneof(fc.constantFrom(...VARS).map((v) => `$${v}`), fc.constantFrom(...VARS).map((v) => `\${${v}}`), fc.constantFrom(...ODD), text);
const format = fc.array(part, { maxLength: 8 }).map((ps) => ps.join(''));
const record: fc.Arbitrary<AccessRecord> = fc.record({
  protocol: fc.constantFrom('TCP', 'UDP'), remoteAddr: text, remotePort: fc.nat(65535), serverAddr: text, serverPort: fc.nat(65535),
  status: fc.constantFrom(200, 400, 403, 502, 503), bytesSent: fc.nat(), bytesReceived: fc.nat(),
  sessionTime: fc.double({ min: 0, max: 1e6, noNaN: true }), upstreamAddr: fc.option(text, { nil: undefined }),
  routeId: fc.option(text, { nil: undefined }), serviceId: fc.option(text, { nil: undefined }), sni: fc.option(text, { nil: undefined }),
  realipRemoteAddr: text, mqttClientId: fc.option(text, { nil: undefined }), endReason: text, endedAt: fc.integer({ min: 0, max: 4e12 }),
});

const KEYS = ['a', 'b', 'host', 'client_ip', 'route_id', 'service_id', '__proto__', 'constructor', 'toString', '0', ''];
const leaf = fc.oneof(fc.constantFrom(...VARS, 'nope', '', '{a}', 'a$b').map((v) => `$${v}`), fc.constantFrom('text', '', 1, 0, -1.5, true, false, null));
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', maxDepth: MAX_DEPTH + 2 }, leaf, leaf, tie('obj'), tie('arr')),
  obj: fc.array(fc.tuple(fc.constantFrom(...KEYS), tie('tree')), { maxLength: 4 }).map(ownObject),
  arr: fc.array(tie('tree'), { maxLength: 4 }),
}));
const logFormat = fc.oneof({ weight: 9, arbitrary: fc.array(fc.tuple(fc.constantFrom(...KEYS), tree), { maxLength: 6 }).map(ownObject) }, { weight: 1, arbitrary: fc.constant([]) });
const lookupTable = fc.dictionary(fc.constantFrom(...VARS, 'nope', '{a}', 'a$b', ''), fc.oneof(text, fc.integer()), { maxKeys: 8 });
const route: fc.Arbitrary<MatchedRoute | undefined> = fc.option(fc.record({ id: fc.constantFrom('r1', '2'), serviceId: fc.option(fc.constantFrom('s1'), { nil: undefined }) }), { nil: undefined });

/** An object as JSON.parse builds it: every key an own property, `__proto__` included. */
function ownObject(pairs: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of pairs) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  return o;
}

type Input =
  | { readonly kind: 'access-log'; readonly format: string; readonly escape: 'default' | 'json'; readonly record: AccessRecord }
  | { readonly kind: 'log-format'; readonly fmt: unknown; readonly vars: Readonly<Record<string, string | number>>; readonly route: MatchedRoute | undefined };

const arbitrary: fc.Arbitrary<Input> = fc.oneof(
  fc.record({ kind: fc.constant('access-log' as const), format: fc.oneof(format, mutatedText(format)), escape: fc.constantFrom('default' as const, 'json' as const), record }),
  fc.record({ kind: fc.constant('log-format' as const), fmt: logFormat, vars: lookupTable, route }),
);

/** What `default` escaping must give for `s`: bytes, each printable ASCII but `"` and `\` as is, the others as \xHH. */
function defaultBytes(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const bytes = cp > 0xff ? [...Buffer.from(ch)] : [cp];
    for (const b of bytes) out += b >= 0x20 && b <= 0x7e && b !== 0x22 && b !== 0x5c && cp <= 0xff ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function checkAccessLog(format: string, escape: 'default' | 'json', r: AccessRecord): string | undefined {
  const c = compileFormat(format, escape);
  const known = c.unknown.find((n) => VARS.includes(n));
  if (known !== undefined) return `known variable ${known} reported unknown`;
  const line = c.render(r);
  if (typeof line !== 'string' || line !== c.render(r)) return 'render is not a deterministic string';
  for (const a of ALONE) {
    const want = recordVariable(r, a.v) ?? '';
    let back: unknown;
    try { back = JSON.parse(`"${a.json(r)}"`); } catch { back = undefined; }
    if (back !== want) return `$${a.v} escaped json does not read back: ${JSON.stringify(a.json(r))}`;
    if (a.plain(r) !== defaultBytes(want)) return `\${${a.v}} escaped default: ${JSON.stringify(a.plain(r))}, want ${JSON.stringify(defaultBytes(want))}`;
  }
  return undefined;
}

/** The rules of log-format.ts's header, written out again: the entry a format must render. */
function reference(fmt: object, look: (n: string) => unknown, depth: number): unknown {
  const entries = Object.entries(fmt).map(([k, v]): [string, unknown] => [k,
    v !== null && typeof v === 'object' ? (depth >= MAX_DEPTH ? {} : reference(v as object, look, depth + 1))
      : typeof v === 'string' && v.startsWith('$') ? look(v.slice(1)) : v]);
  if (!Array.isArray(fmt) || depth === 1) return ownObject(entries.filter(([, v]) => v !== undefined));
  const vals = entries.map(([, v]) => v);
  while (vals.length > 0 && vals[vals.length - 1] === undefined) vals.pop();
  return vals.length === 0 ? {} : vals.map((v) => v ?? null);
}

function plainData(x: unknown): boolean {
  if (x === null || typeof x !== 'object') return true;
  const proto: unknown = Object.getPrototypeOf(x);
  return (proto === Object.prototype || proto === Array.prototype) && Object.values(x).every(plainData);
}

function checkLogFormat(fmt: unknown, vars: Readonly<Record<string, string | number>>, route: MatchedRoute | undefined): string | undefined {
  const look = (n: string): string | number | undefined => (Object.hasOwn(vars, n) ? vars[n] : undefined);
  const render = compileLogFormat(fmt as Record<string, unknown>);
  const entry = render(look, route);
  if (!plainData(entry) || Array.isArray(entry)) return `not a plain object: ${json(entry)}`;
  const want = reference(fmt as object, look, 1) as Record<string, unknown>;
  if (route !== undefined) {
    if (route.serviceId !== undefined) want.service_id = route.serviceId;
    else delete want.service_id;
    want.route_id = route.id;
  }
  if (JSON.stringify(entry) !== JSON.stringify(want)) return `rendered ${JSON.stringify(entry)}, want ${JSON.stringify(want)}`;
  if (JSON.stringify(render(look, route)) !== JSON.stringify(entry)) return 'render is not deterministic';
  return undefined;
}

export const target: FuzzTarget<Input> = {
  name: 'log-formats',
  arbitrary,
  show: json,
  boundMs: 10,
  mustReach: ['access-log', 'log-format'],
  check(x) {
    const why = x.kind === 'access-log' ? checkAccessLog(x.format, x.escape, x.record) : checkLogFormat(x.fmt, x.vars, x.route);
    return why === undefined ? { kind: x.kind } : { fail: why };
  },
};
