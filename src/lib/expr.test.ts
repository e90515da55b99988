// Table-driven tests of lib/expr.ts against lua-resty-expr v1's behaviour. Cases marked "lua <file> <n>" are ported
// from lua-resty-expr's t/ (sanity.t, and.t, or.t, not.t, ipmatcher.t, validate.t); ngx.var there is a plain table
// here, so a query arg `?k=v` becomes { arg_k: 'v' } (a string, as nginx gives).
import { test, type TestContext } from 'node:test';
import { compileExpr, luaNumStr, luaToNumber, MAX_DEPTH } from './expr.ts';

type Vars = Record<string, string | number>;
const lookup = (vars: Vars) => (name: string): string | number | undefined => (Object.hasOwn(vars, name) ? vars[name] : undefined);

// [name, rule, [vars, want][]]
type EvalCase = [string, unknown, [Vars, boolean][]];

const w = { arg_weight: '12' };
const evalCases: EvalCase[] = [
  // equality and the compatibility form
  ['lua sanity 1: ==', [['arg_k', '==', 'v']], [[{ arg_k: 'v' }, true], [{ arg_k: 'x' }, false], [{}, false]]],
  ['lua sanity 2: [var, value] means ==', [['arg_k', 'v']], [[{ arg_k: 'not_hit' }, false], [{ arg_k: 'v' }, true]]],
  ['compat form lowercases the value, as Lua does', [['k', 'V']], [[{ k: 'V' }, false], [{ k: 'v' }, true]]],
  ['compat form with a number value compares as a string', [['k', 5]], [[{ k: '5' }, true], [{ k: 5 }, false]]],
  ['lua sanity 5: three ANDed', [['arg_k', '==', 'v'], ['host', '==', 'localhost'], ['server_port', '==', '1984']],
    [[{ arg_k: 'v', host: 'localhost', server_port: '1984' }, true], [{ arg_k: 'v', host: 'localhost', server_port: '1985' }, false]]],
  ['lua sanity 6: compat forms ANDed', [['arg_k', 'v'], ['host', 'localhost'], ['server_port', '1984-not']],
    [[{ arg_k: 'v', host: 'localhost', server_port: '1984' }, false]]],
  ['== number: tonumber(var)', [['p', '==', 9000]], [[{ p: '9000' }, true], [{ p: ' 9000 ' }, true], [{ p: '0x2328' }, true], [{ p: '9e3' }, true], [{ p: 9000 }, true], [{ p: 'x' }, false], [{}, false]]],
  ['== string never equals a number var (no coercion)', [['p', '==', '9000']], [[{ p: 9000 }, false], [{ p: '9000' }, true], [{ p: '9000.0' }, false]]],
  ['== null: true when missing', [['k', '==', null]], [[{}, true], [{ k: '' }, false]]],
  ['[var, "=="]: value is nil', [['k', '==']], [[{}, true], [{ k: 'v' }, false]]],
  ['== a list or a boolean never matches', [['k', '==', ['v']], ['k2', '==', true]], [[{ k: 'v', k2: 'true' }, false]]],
  ['op is case-insensitive', [['k', 'IN', ['a']]], [[{ k: 'a' }, true]]],
  // ~=
  ['lua sanity 7/8: ~=', [['arg_k', '~=', 'v']], [[{ arg_k: 'v' }, false], [{ arg_k: 'w' }, true]]],
  ['lua sanity 13/36: ~= nil', [['arg_k', '~=']], [[{ arg_k: 'v' }, true], [{}, false]]],
  ['~= null', [['k', '~=', null]], [[{ k: 'v' }, true], [{}, false]]],
  ['lua sanity 26-28: ~= number', [['arg_age', '~=', 18]], [[{ arg_age: '18' }, false], [{ arg_age: '16' }, true], [{ arg_age: 'aa' }, true], [{}, true]]],
  ['lua sanity 29: ~= numeric string', [['arg_age', '~=', '18']], [[{ arg_age: '18' }, false], [{ arg_age: '18.0' }, true]]],
  ['lua sanity 30: ~= on a missing var', [['arg_name', '~=', 'jack']], [[{}, true]]],
  ['~= a list is always true', [['k', '~=', ['v']]], [[{ k: 'v' }, true], [{}, true]]],
  // ordering: tonumber on both sides
  ['lua sanity 9/10/12: >', [['arg_k', '>', 10]], [[{ arg_k: '11' }, true], [{ arg_k: '9' }, false], [{}, false], [{ arg_k: 'abc' }, false]]],
  ['lua sanity 34: >=', [['arg_k', '>=', '2']], [[{ arg_k: '2' }, true], [{ arg_k: '1' }, false]]],
  ['lua sanity 34: >= 3', [['arg_k', '>=', 3]], [[{ arg_k: '2' }, false]]],
  ['lua sanity 35: <=', [['arg_k', '<=', '2']], [[{ arg_k: '3' }, false], [{ arg_k: '2' }, true]]],
  ['<', [['k', '<', '0x10']], [[{ k: '15' }, true], [{ k: '16' }, false], [{ k: '-inf' }, true], [{ k: 'nan' }, false]]],
  ['> compares numbers, not strings', [['server_port', '>', 9000]], [[{ server_port: '10000' }, true], [{ server_port: '9000' }, false], [{ server_port: 10000 }, true]]],
  ['> a non-number value is always false', [['k', '>', 'abc']], [[{ k: '1' }, false], [{ k: 'abd' }, false]]],
  ['> null/list/boolean value is always false', ['OR', ['k', '>', null], ['k', '>', [1]], ['k', '>', true]], [[{ k: '5' }, false]]],
  // regex
  ['~~', [['k', '~~', '^[a-z]+$']], [[{ k: 'abc' }, true], [{ k: 'aBc' }, false], [{}, false], [{ k: '' }, false]]],
  ['lua sanity 19: not ~~', [['k', '!', '~~', '[a-z]']], [[{ k: 'a' }, false], [{ k: '9' }, true]]],
  ['lua sanity 22: ~*', [['x', '~*', 'A']], [[{ x: 'a' }, true], [{ x: 'A' }, true], [{ x: 'b' }, false], [{ x: '' }, false]]],
  ['lua sanity 23: not ~*', [['x', '!', '~*', 'A']], [[{ x: 'a' }, false], [{ x: 'A' }, false], [{ x: 'b' }, true], [{ x: '' }, true]]],
  ['lua sanity 24/25/31/32: regex on a missing var', ['OR', ['a', '~~', '[a-z]{1,4}'], ['a', '~*', '[a-z]{1,4}']], [[{}, false]]],
  ['~~ on a number var uses its Lua string', [['k', '~~', '^12\\.5$']], [[{ k: 12.5 }, true]]],
  ['~~ with a number pattern', [['k', '~~', 10]], [[{ k: 'x10y' }, true], [{ k: '1' }, false]]],
  ['~~ with a backreference (backtracking engine)', [['k', '~~', '^(a)\\1$']], [[{ k: 'aa' }, true], [{ k: 'ab' }, false]]],
  ['~* folds classes and ranges', [['k', '~*', '^[a-c][^a-z]\\x41[X-z]$']], [[{ k: 'B1ax' }, true], [{ k: 'bA' + 'ax' }, false], [{ k: 'd1aq' }, false], [{ k: 'c_A_' }, true]]],
  ['~* with a backreference and a named group (backtracking engine)', [['k', '~*', '^(?<Tag>ab)\\k<Tag>$']], [[{ k: 'abAB' }, true], [{ k: 'abAC' }, false]]],
  ['~* with a class escape and an identity escape', [['k', '~*', '^\\w\\-\\d$']], [[{ k: 'Q-1' }, true], [{ k: 'Q-x' }, false]]],
  ['~* on an SNI suffix', [['sni', '~*', '^(\\w+\\.)?example\\.com$']], [[{ sni: 'WWW.Example.com' }, true], [{ sni: 'example.org' }, false]]],
  // in / has
  ['lua sanity 14: in', [['arg_k', 'in', ['1', '2']]], [[{ arg_k: '1' }, true], [{ arg_k: '2' }, true], [{ arg_k: '4' }, false], [{}, false]]],
  ['lua sanity 20: not in (number list, number vars)', [['k', '!', 'in', [1, 2]]], [[{ k: 3 }, true], [{ k: 1 }, false], [{ k: '1' }, true]]],
  ['in: a non-list value is always false', ['OR', ['k', 'in', 'k'], ['k', 'in', null], ['k', 'in', { a: 'k' }]], [[{ k: 'k' }, false]]],
  ['in ignores booleans and nulls', [['k', 'in', [true, null, 'true']]], [[{ k: 'true' }, true], [{ k: 'null' }, false]]],
  ['has: a variable is never a list', [['x', 'has', 'a']], [[{ x: 'a' }, false], [{}, false]]],
  ['lua sanity 21: not has', [['k', '!', 'has', 1]], [[{ k: 1 }, true]]],
  // negation
  ['lua sanity 17: !', [['k', '!', '>', 10]], [[{ k: 11 }, false], [{ k: 9 }, true], [{}, true]]],
  ['lua sanity 18: and + not', [['x', '>', 10], ['x', '!', '>', 15]], [[{ x: 11 }, true], [{ x: 16 }, false]]],
  ['! ==', [['k', '!', '==', 'x']], [[{ k: 'x' }, false], [{ k: 'y' }, true], [{}, true]]],
  ['fifth element is ignored, as in Lua', [['k', '==', 'x', 'y', 'z']], [[{ k: 'x' }, true]]],
  // logic
  ['lua and 1/2', ['AND', ['arg_weight', '>', 10], ['arg_weight', '!', '>', 15]], [[w, true], [{ arg_weight: '8' }, false]]],
  ['lua and 3/4: nested', ['AND', ['AND', ['arg_weight', '<', 20], ['arg_weight', '!', '<', 15]], [['arg_height', '>', 10], ['arg_height', '!', '<', 15]]],
    [[{ arg_weight: '16', arg_height: '16' }, true], [{ arg_weight: '14', arg_height: '16' }, false]]],
  ['lua or 1-3', ['OR', ['arg_weight', '>', 10], ['arg_weight', '!', '>', 15]], [[w, true], [{ arg_weight: '8' }, true]]],
  ['lua or 3: both fail', ['OR', ['arg_weight', '>', 20], ['arg_weight', '!', '>', 15]], [[{ arg_weight: '16' }, false]]],
  ['lua or 4/5: nested', ['OR', ['OR', ['arg_weight', '>', 20], ['arg_weight', '!', '>', 15]], ['AND', ['arg_height', '>', 10], ['arg_height', '!', '<', 15]]],
    [[{ arg_weight: '16', arg_height: '16' }, true], [{ arg_weight: '16', arg_height: '14' }, false]]],
  ['lua or 6/7: nested expression lists', ['OR', [['arg_weight', '!', '>', 15]], [['arg_height', '>', 10], ['arg_height', '!', '<', 15]]],
    [[{ arg_weight: '16', arg_height: '16' }, true], [{ arg_weight: '16', arg_height: '14' }, false]]],
  ['lua sanity 33: lower-case or', ['or', ['x', '==', 'a'], ['x', '==', 'c']], [[{ x: 'a' }, true], [{ x: 'c' }, true], [{ x: 'b' }, false]]],
  ['lua not 1-3: !AND', ['!AND', ['arg_weight', '>', 10], ['arg_weight', '!', '>', 15]], [[w, false], [{ arg_weight: '8' }, true]]],
  ['lua not 4-6: !OR', ['!OR', ['arg_weight', '>', 10], ['arg_weight', '!', '<', 15]], [[w, false], [{ arg_weight: '8' }, true]]],
  ['lua not 7: !OR nested', ['!OR', ['AND', ['arg_weight', '<', 20], ['arg_weight', '!', '<', 15]], [['arg_height', '>', 10], ['arg_height', '!', '<', 15]], ['OR', ['arg_height', '>', 10], ['arg_height', '!', '<', 15]]],
    [[{ arg_weight: '16', arg_height: '16' }, false]]],
  ['lua not 8: !OR of negated lists', ['!OR', ['!AND', ['arg_weight', '<', 20], ['arg_weight', '!', '<', 15]], ['!OR', ['arg_height', '>', 10], ['arg_height', '!', '<', 15]]],
    [[{ arg_weight: '16', arg_height: '16' }, true]]],
  ['lua not 9-11: mixed', ['!AND', ['arg_name', '==', 'json'], ['OR', ['AND', ['arg_weight', '>', 10], ['arg_height', '>', 10]], ['arg_height', '!', '>', 15]]],
    [[{ arg_weight: '6', arg_height: '6', arg_name: 'json' }, false], [{ arg_weight: '6', arg_height: '6', arg_name: 'xx' }, true]]],
  ['lua validate 7: [] is always true', [], [[{}, true]]],
  ['{} (cjson cannot tell it from []) is always true', {}, [[{}, true]]],
  ['traffic-split shape', [['remote_addr', '==', '127.0.0.1'], ['server_port', '>', 9000]],
    [[{ remote_addr: '127.0.0.1', server_port: '9100' }, true], [{ remote_addr: '127.0.0.1', server_port: '9000' }, false], [{ server_port: '9100' }, false]]],
  // ipmatch
  ['lua ipmatcher 1/3: one address', ['OR', ['remote_addr', 'ipmatch', '127.0.0.1'], ['x', 'ipmatch', ['10.0.0.1']]],
    [[{ remote_addr: '127.0.0.1' }, true], [{ x: '10.0.0.1' }, true], [{ remote_addr: '127.0.0.2' }, false]]],
  ['lua ipmatcher 4: CIDR', [['remote_addr', 'ipmatch', '127.0.0.0/16']], [[{ remote_addr: '127.0.200.1' }, true], [{ remote_addr: '127.1.0.1' }, false]]],
  ['lua ipmatcher 5: list', [['remote_addr', 'ipmatch', ['127.0.0.2', '127.0.0.3']]], [[{ remote_addr: '127.0.0.1' }, false], [{ remote_addr: '127.0.0.3' }, true]]],
  ['lua ipmatcher 8: with other operators', [['remote_addr', 'ipmatch', ['127.0.0.1']], ['arg_k', '==', 'v']], [[{ remote_addr: '127.0.0.1', arg_k: 'v' }, true], [{ remote_addr: '127.0.0.1' }, false]]],
  ['ipmatch v6 and v4 together', [['a', 'ipmatch', ['2001:db8::/32', '::1', '10.0.0.0/8', '0.0.0.0/0']]],
    [[{ a: '2001:db8:1::5' }, true], [{ a: '::1' }, true], [{ a: '[::1]' }, true], [{ a: '2001:db9::1' }, false], [{ a: '192.168.1.1' }, true]]],
  ['ipmatch ::/0 matches only IPv6', [['a', 'ipmatch', '::/0']], [[{ a: 'fe80::1' }, true], [{ a: '1.2.3.4' }, false]]],
  ['ipmatch bracketed rule entry', [['a', 'ipmatch', '[2001:db8::]/64']], [[{ a: '2001:db8::9' }, true], [{ a: '2001:db8:0:1::9' }, false]]],
  ['ipmatch: mapped IPv4 counts as IPv4', [['a', 'ipmatch', '10.0.0.0/8']], [[{ a: '::ffff:10.1.2.3' }, true]]],
  ['ipmatch: missing, non-IP, number var → false', [['a', 'ipmatch', '0.0.0.0/0']], [[{}, false], [{ a: 'localhost' }, false], [{ a: 1 }, false]]],
  ['! ipmatch', [['a', '!', 'ipmatch', '10.0.0.0/8']], [[{ a: '11.0.0.1' }, true], [{ a: '10.0.0.1' }, false], [{}, true]]],
];

for (const [name, rule, rows] of evalCases) {
  test(`eval: ${name}`, (t: TestContext) => {
    t.plan(rows.length + 1);
    const c = compileExpr(rule);
    t.assert.ok(c.ok, c.ok ? '' : c.error);
    if (!c.ok) return;
    for (const [vars, want] of rows) t.assert.strictEqual(c.eval(lookup(vars)), want, JSON.stringify(vars));
  });
}

let deep: unknown = ['k', '==', 'v'];
for (let i = 0; i < MAX_DEPTH; i++) deep = ['AND', deep, ['k', '==', 'v']];

// [rule, error]
const errorCases: [unknown, string][] = [
  [undefined, 'missing argument rule'],            // lua validate 4; APISIX: a match without vars
  [null, 'missing argument rule'],
  [false, 'missing argument rule'],
  [[['arg_k', 'invalid', 10]], "invalid operator 'invalid'"],   // lua sanity 11
  [[['arg_k', '=', 'v']], "invalid operator '='"],              // lua validate 1
  [[['arg_k', 'INVALID', 'v']], "invalid operator 'invalid'"],  // the operator is lowercased first
  [[['arg_name', 123, 'jack']], "invalid operator '123'"],     // APISIX t/plugin/traffic-split.t
  [[['arg_k', '*=', 'v']], "invalid operator '*='"],
  [[['arg_k']], 'invalid expression'],                          // lua validate 2
  [[[]], 'rule too short'],
  [[{}], 'rule too short'],
  [[{ a: 1 }], 'rule too short'],
  [[['!', 'arg_k', '==', '1']], "bad 'not' expression"],        // lua validate 3
  [[['k', 'not', '==', '1']], "bad 'not' expression"],
  [['OR', ['arg_weight', '>', 10]], 'rule too short'],          // lua validate 5
  [['OR', ['arg_weight', '>', 10], ['AND']], 'rule too short'], // lua validate 6
  [['OR', ['a', '==', 'b'], ['AND', ['a', '==', 'b']]], 'rule too short'],
  [['arg_k', '==', 'v'], 'rule should be wrapped inside brackets'], // lua validate 8
  [[5, '==', 5], 'rule should be wrapped inside brackets'],
  [[true, '==', 5], 'rule should be wrapped inside brackets'],
  ['abc', 'rule should be wrapped inside brackets'],
  [{ a: 1 }, 'rule should be wrapped inside brackets'],
  [7, 'rule should be wrapped inside brackets'],
  [[['remote_addr', 'ipmatch']], 'invalid ip address'],         // lua ipmatcher 2
  [[['remote_addr', 'ipmatch', '']], 'invalid ip address'],
  [[['remote_addr', 'ipmatch', []]], 'invalid ip address'],
  [[['remote_addr', 'ipmatch', false]], 'invalid ip address'],
  [[['remote_addr', 'ipmatch', {}]], 'invalid ip address'],
  [[['remote_addr', 'ipmatch', ['']]], 'invalid ip address: '],
  [[['remote_addr', 'ipmatch', ['1.2.3.4', 'foo/24']]], 'invalid ip address: foo'],
  [[['remote_addr', 'ipmatch', '1.2.3.4/33']], 'invalid ip address: 1.2.3.4/33'],
  [[['remote_addr', 'ipmatch', '::1/abc']], 'invalid ip address: ::1/abc'],
  [[['remote_addr', 'ipmatch', [5]]], 'invalid ip address: 5'],
  [[['remote_addr', 'ipmatch', null]], 'invalid ip address: null'],
  [[['k', '~~', '(']], "invalid regex '(': Unterminated group"],
  [[['k', '~*', '[a-']], "invalid regex '[a-': Unterminated character class"],
  [[['k', '~~']], 'invalid regex: string expected'],
  [[['k', '~~', null]], 'invalid regex: string expected'],
  [[['k', '~*', ['a']]], 'invalid regex: string expected'],
  // backreferences and lookaround need the backtracking engine, where these are refused
  [[['k', '~*', '(a)\\1(b+)+$']], "regex '(a)\\1(b+)+$' may backtrack catastrophically"],
  [[['k', '~~', '(?=a)(a|aa)*b']], "regex '(?=a)(a|aa)*b' may backtrack catastrophically"],
  [[['k', '~~', '(\\w)\\1*']], "regex '(\\w)\\1*' may backtrack catastrophically"],
  [[['k', '~*', '(?=x).*y']], "regex '(?=x).*y' may backtrack catastrophically"],
  [[['k', '~~', '(a)\\1x{0,200}y{0,200}']], "regex '(a)\\1x{0,200}y{0,200}' may backtrack catastrophically"],
  [[['k', '~~', 'a'.repeat(4097)]], 'regex too long (max 4096 characters)'],
  [[[5, '==', 'x']], 'invalid expression'],                     // a variable name must be a string
  [[[null, '==', 'x']], 'invalid expression'],
  [[['k', null, 'x']], 'invalid expression'],
  [[['k', ['=='], 'x']], 'invalid expression'],
  [[['k', '==', 'x'], 'y'], 'invalid expression'],              // Lua throws on a bare string operand
  [['AND', ['k', '==', 'x'], 5], 'invalid expression'],
  [[['and', '==', 'x']], 'invalid expression'],                 // "and" as a name reads as a logic list in Lua
  [[deep], `rule nested too deep (max ${MAX_DEPTH} levels)`],
];

test('compile errors keep lua-resty-expr wording', (t: TestContext) => {
  t.plan(errorCases.length);
  for (const [rule, error] of errorCases) {
    const c = compileExpr(rule);
    t.assert.deepStrictEqual(c.ok ? 'compiled' : c.error, error, JSON.stringify(rule) ?? String(rule));
  }
});

test('nesting: an expression at level MAX_DEPTH compiles, one level deeper does not', (t: TestContext) => {
  t.plan(3);
  const nest = (levels: number): unknown => {
    let r: unknown = ['k', '==', 'v'];
    for (let i = 0; i < levels - 2; i++) r = ['OR', r, ['k', '==', 'nope']];
    return [r]; // the outer list is level 1, the expression the last level
  };
  const c = compileExpr(nest(MAX_DEPTH));
  t.assert.strictEqual(c.ok && c.eval(lookup({ k: 'v' })), true);
  const d = compileExpr(nest(MAX_DEPTH + 1));
  t.assert.strictEqual(d.ok ? 'compiled' : d.error, `rule nested too deep (max ${MAX_DEPTH} levels)`);
  t.assert.strictEqual(compileExpr(nest(MAX_DEPTH - 1)).ok, true);
});

test('catastrophic patterns finish fast on ~~ and ~* (linear engine)', (t: TestContext) => {
  const pats: [string, string][] = [['~~', '^(a|a)*(a+)+$'], ['~*', '^(A|a)*(a+)+$'], ['~*', '.*.*.*x'], ['~~', '(\\w+\\.)*\\w+x']];
  t.plan(pats.length * 2);
  const subject = lookup({ k: `${'a'.repeat(65_535)}b` });
  for (const [op, p] of pats) {
    const c = compileExpr([['k', op, p]]);
    const t0 = performance.now();
    t.assert.strictEqual(c.ok && c.eval(subject), false, p);
    t.assert.ok(performance.now() - t0 < 200, `${p} under 200 ms`);
  }
});

test('Lua number conversions', (t: TestContext) => {
  const nums: [string, number | undefined][] = [
    ['10', 10], [' 10\t', 10], ['+1.5', 1.5], ['-2', -2], ['1e2', 100], ['.5', 0.5], ['5.', 5], ['0x10', 16], ['0XfF', 255],
    ['0x1p4', 16], ['0x.8', 0.5], ['inf', Infinity], ['-Infinity', -Infinity], ['', undefined], ['.', undefined],
    ['0x', undefined], ['10a', undefined], ['1 2', undefined], ['1e', undefined], ['1\u00000', undefined],
  ];
  const strs: [number, string][] = [[100, '100'], [0.1 + 0.2, '0.3'], [1e15, '1e+15'], [1e14, '1e+14'], [12345678901234, '12345678901234'], [1e-5, '1e-05'], [0.0001, '0.0001'], [-0, '-0'], [2.5, '2.5']];
  t.plan(nums.length + strs.length + 1);
  for (const [s, n] of nums) t.assert.strictEqual(luaToNumber(s), n, JSON.stringify(s));
  t.assert.ok(Number.isNaN(luaToNumber('NaN')));
  for (const [n, s] of strs) t.assert.strictEqual(luaNumStr(n), s, String(n));
});
