// log_format as APISIX's log-util builds entries (gen_log_format / build_log_entry / get_custom_format_log), with the
// JSON text cjson would write for them.
import { test, type TestContext } from 'node:test';
import { compileLogFormat, MAX_DEPTH } from './log-format.ts';

const VARS: Readonly<Record<string, string | number>> = {
  remote_addr: '127.0.0.1', remote_port: 40000, server_port: '9100', status: '200', bytes_sent: 5,
};

/** A lookup over VARS that records every name asked for. */
function lookup(asked: string[] = []): (name: string) => string | number | undefined {
  return (name) => {
    asked.push(name);
    return VARS[name];
  };
}

const render = (fmt: Record<string, unknown>): string => JSON.stringify(compileLogFormat(fmt)(lookup()));

test('table: what APISIX puts in the entry for each kind of value', (t: TestContext) => {
  const cases: { name: string; fmt: Record<string, unknown>; want: string }[] = [
    { name: '$var is the variable', fmt: { client_ip: '$remote_addr', port: '$remote_port' }, want: '{"client_ip":"127.0.0.1","port":40000}' },
    { name: 'a variable without a value leaves its key out', fmt: { a: '$remote_addr', b: '$no_such_var' }, want: '{"a":"127.0.0.1"}' },
    { name: 'other values are literal', fmt: { s: 'plain', n: 3, f: 1.5, b: false, z: null }, want: '{"s":"plain","n":3,"f":1.5,"b":false,"z":null}' },
    { name: 'a $ that is not first is literal text', fmt: { s: 'cost: $remote_addr' }, want: '{"s":"cost: $remote_addr"}' },
    { name: 'nested objects are formats too', fmt: { net: { ip: '$remote_addr', gone: '$nope' }, st: '$status' }, want: '{"net":{"ip":"127.0.0.1"},"st":"200"}' },
    { name: 'an array keeps its order; a missing item inside is null', fmt: { l: ['$remote_addr', '$nope', '$status'] }, want: '{"l":["127.0.0.1",null,"200"]}' },
    { name: 'an array ends at its last value (a Lua sequence)', fmt: { l: ['$remote_addr', '$nope', '$nope2'] }, want: '{"l":["127.0.0.1"]}' },
    { name: 'an empty table is {} (cjson), from [] or from an array of missing values', fmt: { a: [], b: ['$nope'], c: {} }, want: '{"a":{},"b":{},"c":{}}' },
    { name: 'an object whose variables are all missing is {}', fmt: { o: { x: '$nope' } }, want: '{"o":{}}' },
  ];
  t.plan(cases.length);
  for (const c of cases) t.assert.strictEqual(render(c.fmt), c.want, c.name);
});

test('no template syntax: `$a$b` asks for the variable "a$b", `${a}` for "{a}", `$` for "" (all missing here)', (t: TestContext) => {
  t.plan(2);
  const asked: string[] = [];
  const entry = compileLogFormat({ x: '$remote_addr$status', y: '${remote_addr}', z: '$', w: '$ remote_addr' })(lookup(asked));
  t.assert.deepStrictEqual(asked, ['remote_addr$status', '{remote_addr}', '', ' remote_addr']);
  t.assert.deepStrictEqual(entry, {});
});

test(`nesting: ${MAX_DEPTH} levels counting the top one; a table below that is {}`, (t: TestContext) => {
  t.plan(1);
  // levels 1..5 are formats; the object at level 6 is truncated to {}
  const fmt = { l2: { l3: { l4: { l5: { ip: '$remote_addr', l6: { ip: '$remote_addr' } } } } } };
  t.assert.strictEqual(render(fmt), '{"l2":{"l3":{"l4":{"l5":{"ip":"127.0.0.1","l6":{}}}}}}');
});

test('compiled once: a later change to the format object does not reach the renderer; each render is a new object', (t: TestContext) => {
  t.plan(3);
  const fmt: Record<string, unknown> = { ip: '$remote_addr' };
  const r = compileLogFormat(fmt);
  fmt.ip = '$status';
  fmt.extra = 1;
  const a = r(lookup());
  const b = r(lookup());
  t.assert.deepStrictEqual(a, { ip: '127.0.0.1' });
  t.assert.notStrictEqual(a, b);
  t.assert.deepStrictEqual(b, a);
});

test('the matched route: route_id and service_id are set after the format (a format\'s service_id goes when the route has none)', (t: TestContext) => {
  t.plan(3);
  const r = compileLogFormat({ ip: '$remote_addr', service_id: 'from-format', route_id: 'from-format' });
  t.assert.deepStrictEqual(r(lookup(), { id: 'r1', serviceId: 's1' }), { ip: '127.0.0.1', service_id: 's1', route_id: 'r1' });
  t.assert.deepStrictEqual(r(lookup(), { id: 'r1', serviceId: undefined }), { ip: '127.0.0.1', route_id: 'r1' });
  t.assert.deepStrictEqual(r(lookup()), { ip: '127.0.0.1', service_id: 'from-format', route_id: 'from-format' }, 'no route given: the format as is');
});
