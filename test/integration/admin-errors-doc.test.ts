// docs/errors.md and src/controlplane/admin/errors.ts list the same errors (STYLE.md rule 14): every catalog code is
// documented with its status, body key, message template and extra fields, and every documented code exists.
// The catalog's texts are also pinned to APISIX's exact wording (research/apisix-admin.md).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ERRORS, adminError, formatMessage, type ErrorCode } from '../../src/controlplane/admin/errors.ts';

interface DocRow {
  readonly code: string;
  readonly status: number;
  readonly key: string;
  readonly msg: string;
  readonly extra: string;
}

/** The text of a Markdown code span: `x`, or `` x `` when x holds a backtick (one space each side stripped). */
function codeSpan(cell: string): string | undefined {
  const double = /^``\s(.*)\s``$/.exec(cell);
  if (double) return double[1];
  const single = /^`([^`]*)`$/.exec(cell);
  return single ? single[1] : undefined;
}

function parseDoc(): DocRow[] {
  const text = readFileSync(path.join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
  const rows: DocRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('| `')) continue;
    // Split on the column bars; no message contains " | ".
    const cells = line.slice(1, -1).split(' | ').map((c) => c.trim());
    const [code, status, key, msg, extra] = cells;
    rows.push({
      code: codeSpan(code ?? '') ?? `unparsed: ${code ?? ''}`,
      status: Number(status),
      key: codeSpan(key ?? '') ?? `unparsed: ${key ?? ''}`,
      msg: codeSpan(msg ?? '') ?? `unparsed: ${msg ?? ''}`,
      extra: extra ?? '',
    });
  }
  return rows;
}

type Def = { status: number; msg: string; field?: string; extra?: Readonly<Record<string, string>> };
const catalog = ERRORS as Readonly<Record<string, Def>>;

test('docs/errors.md documents every code of errors.ts, each once', (t: TestContext) => {
  t.plan(2);
  const documented = parseDoc().map((r) => r.code);
  t.assert.deepStrictEqual([...documented].sort(), Object.keys(ERRORS).sort());
  t.assert.strictEqual(new Set(documented).size, documented.length, 'no code is listed twice');
});

test('every documented row matches the catalog: status, body key, message template, extra fields', (t: TestContext) => {
  const rows = parseDoc();
  t.plan(rows.length);
  for (const r of rows) {
    const def = catalog[r.code];
    const want = def === undefined ? undefined : {
      status: def.status,
      key: def.field ?? 'error_msg',
      msg: def.msg,
      extra: Object.entries(def.extra ?? {}).map(([k, v]) => `\`${k}: ${v}\``).join(', '),
    };
    // A constant extra field is written as one code span `k: v`; prose (e.g. req_body) is not checked.
    const got = { status: r.status, key: r.key, msg: r.msg, extra: /^`[a-z_]+: [^`]*`$/.test(r.extra) || def?.extra ? r.extra : '' };
    t.assert.deepStrictEqual(got, want, r.code);
  }
});

test('every catalog error builds its body from the template', (t: TestContext) => {
  const codes = Object.keys(ERRORS) as ErrorCode[];
  t.plan(codes.length);
  for (const code of codes) {
    const def = catalog[code] as Def;
    const e = adminError(code, { id: '1', kind: 'stream route', name: 'x', reason: 'r', prop: 'create_time', res: 'foo', method: 'PATCH', size: 1, field: 'remote_addr', addr: 'a', port: 0, node: 'n', conf: '1', path: 'p', subsystem: 'dns', store: 'yaml' });
    t.assert.deepStrictEqual(
      { status: e.status, body: e.body, unfilled: /\{\w+\}/.test(JSON.stringify(e.body)) },
      { status: def.status, body: { [def.field ?? 'error_msg']: e.body[def.field ?? 'error_msg'], ...def.extra }, unfilled: false },
      code,
    );
  }
});

// APISIX 3.x's exact texts (research/apisix-admin.md §1–§5), which users and black-box tests compare.
const apisix: ReadonlyArray<readonly [ErrorCode, Record<string, string | number>, string]> = [
  ['FORBIDDEN_PROPERTY', { prop: 'create_time' }, 'the property is forbidden:  create_time'],
  ['MISSING_ID', { kind: 'stream route' }, 'missing stream route id'],
  ['WRONG_ID', { kind: 'stream route' }, 'wrong stream route id'],
  ['ID_NOT_NEEDED', { kind: 'upstream' }, 'wrong upstream id, do not need it'],
  ['MISSING_CONF', {}, 'missing configurations'],
  ['METHOD_NOT_SUPPORTED', { method: 'PATCH', kind: 'stream route' }, 'not supported `PATCH` method for stream route'],
  ['STREAM_DISABLED', {}, 'stream mode is disabled, can not add stream routes'],
  ['UNSUPPORTED_RESOURCE', { res: 'foo' }, 'Unsupported resource type: foo'],
  ['BODY_TOO_LARGE', { size: 2000000 }, 'invalid request body: request size 2000000 is greater than the maximum size 1572864 allowed'],
  ['TTL_NOT_NUMBER', {}, 'invalid argument ttl: should be a number'],
  ['UPSTREAM_NOT_FOUND', { id: 99 }, 'failed to fetch upstream info by upstream id [99], response code: 404'],
  ['SERVICE_NOT_FOUND', { id: 99 }, 'failed to fetch service info by service id [99], response code: 404'],
  ['SSL_NOT_FOUND', { id: 9999999 }, 'failed to fetch ssl info by ssl id [9999999], response code: 404'],
  ['SSL_WRONG_TYPE', { id: 1 }, 'failed to fetch ssl info by ssl id [1], wrong ssl type'],
  ['UNKNOWN_PLUGIN', { name: 'mqttt-proxy' }, 'unknown plugin [mqttt-proxy]'],
  ['PLUGIN_CONF', { name: 'ip-restriction', reason: 'r' }, 'failed to check the configuration of stream plugin [ip-restriction]: r'],
  ['INVALID_PORT', { port: 65536 }, 'invalid port 65536'],
  ['CHASH_MISSING_KEY', {}, 'missing key'],
  ['INVALID_ADDR', { field: 'remote_addr', addr: ':/8' }, 'invalid remote_addr: :/8'],
  ['SERVICE_IN_USE', { kind: 'stream_route', id: 1 }, 'can not delete this service directly, stream_route [1] is still using it now'],
  ['UPSTREAM_IN_USE', { kind: 'stream_route', id: 1 }, 'can not delete this upstream directly, stream_route [1] is still using it now'],
  ['KEY_NOT_FOUND', {}, 'Key not found'],
  ['MISSING_NEW_CONF', {}, 'missing new configuration'],
  ['INVALID_PAGE', {}, 'page_size must be between 10 and 500'],
  ['INVALID_SUBSYSTEM', {}, 'invalid subsystem passed'],
  ['STORE_CONFLICT', {}, 'value changed before overwritten'],
];

test('the catalog keeps APISIX 3.x\'s exact wording', (t: TestContext) => {
  t.plan(apisix.length + 3);
  for (const [code, params, text] of apisix) t.assert.strictEqual(formatMessage(ERRORS[code].msg, params), text, code);
  for (const [code, why] of [['TOKEN_MISSING', 'missing apikey'], ['TOKEN_WRONG', 'wrong apikey'], ['TOKEN_VIEWER', 'invalid method for role viewer']] as const) {
    t.assert.deepStrictEqual(adminError(code).body, { error_msg: 'failed to check token', description: why });
  }
});
