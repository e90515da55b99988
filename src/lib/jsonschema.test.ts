// The validator against api7/jsonschema's 3.x message templates (research/apisix-schemas.md §2): one table of
// schema, value, expected message (undefined = valid) and, where defaults apply, the value afterwards.
import { test, type TestContext } from 'node:test';
import { check, type Schema } from './jsonschema.ts';

interface Case {
  readonly name: string;
  readonly schema: Schema;
  readonly value: unknown;
  readonly want: string | undefined;
  /** The value after check() (defaults injected); defaults to "unchanged". */
  readonly after?: unknown;
}

const idSchema: Schema = {
  anyOf: [
    { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_.]+$' },
    { type: 'integer', minimum: 1 },
  ],
};

const types: Case[] = [
  { name: 'type integer, got a string', schema: { type: 'integer' }, value: '9100', want: 'wrong type: expected integer, got string' },
  { name: 'type integer, got a fraction (Lua: number)', schema: { type: 'integer' }, value: 3.1, want: 'wrong type: expected integer, got number' },
  { name: 'type integer accepts 1.0', schema: { type: 'integer' }, value: 1.0, want: undefined },
  { name: 'type string, got a number', schema: { type: 'string' }, value: 1, want: 'wrong type: expected string, got number' },
  { name: 'type string, got a boolean', schema: { type: 'string' }, value: true, want: 'wrong type: expected string, got boolean' },
  { name: 'type object, got an array (Lua: table)', schema: { type: 'object' }, value: [1], want: 'wrong type: expected object, got table' },
  { name: 'type object, got null (Lua: cjson.null is userdata)', schema: { type: 'object' }, value: null, want: 'wrong type: expected object, got userdata' },
  { name: 'type array, got an object (Lua: table)', schema: { type: 'array' }, value: { a: 1 }, want: 'wrong type: expected array, got table' },
  { name: 'type object accepts [] (an empty Lua table)', schema: { type: 'object' }, value: [], want: undefined },
  { name: 'type array accepts {} (an empty Lua table)', schema: { type: 'array' }, value: {}, want: undefined },
  { name: 'a list of types', schema: { type: ['string', 'number'] }, value: false, want: 'wrong type: expected one of string, number, got boolean' },
  { name: 'a list of types that matches', schema: { type: ['string', 'integer'] }, value: 5, want: undefined },
  { name: 'type comes before anyOf', schema: { type: 'string', anyOf: [{ pattern: '^a' }] }, value: 123, want: 'wrong type: expected string, got number' },
];

const enums: Case[] = [
  { name: 'enum miss', schema: { enum: ['http', 'tcp'] }, value: 'ftp', want: 'matches none of the enum values' },
  { name: 'enum hit', schema: { enum: ['http', 'tcp'] }, value: 'tcp', want: undefined },
  { name: 'enum compares deeply', schema: { enum: [[1, 2]] }, value: [1, 2], want: undefined },
  { name: 'enum does not coerce', schema: { enum: [1, 0] }, value: '1', want: 'matches none of the enum values' },
  { name: 'const miss', schema: { const: 'x' }, value: 'y', want: 'failed to check const value' },
];

const numbers: Case[] = [
  { name: 'minimum', schema: { type: 'integer', minimum: 1 }, value: 0, want: 'expected 0 to be at least 1' },
  { name: 'minimum, equal is fine', schema: { type: 'integer', minimum: 1 }, value: 1, want: undefined },
  { name: 'maximum', schema: { type: 'integer', maximum: 65535 }, value: 70000, want: 'expected 70000 to be at most 65535' },
  { name: 'exclusiveMinimum (draft-6 number)', schema: { type: 'number', exclusiveMinimum: 0 }, value: 0, want: 'expected 0 to be greater than 0' },
  { name: 'exclusiveMinimum, above is fine', schema: { type: 'number', exclusiveMinimum: 0 }, value: 0.001, want: undefined },
  { name: 'exclusiveMaximum', schema: { type: 'number', exclusiveMaximum: 5 }, value: 5, want: 'expected 5 to be smaller than 5' },
  { name: 'minimum before maximum', schema: { type: 'number', minimum: 10, maximum: 5 }, value: 7, want: 'expected 7 to be at least 10' },
  { name: 'a fraction prints as LuaJIT %.14g', schema: { type: 'number', minimum: 5 }, value: 3.1, want: 'expected 3.1 to be at least 5' },
  { name: 'a negative number', schema: { type: 'integer', minimum: 0 }, value: -1, want: 'expected -1 to be at least 0' },
  { name: '1e15 prints in exponent form', schema: { type: 'number', maximum: 1 }, value: 1e15, want: 'expected 1e+15 to be at most 1' },
  { name: '1e14 prints in exponent form (%.14g)', schema: { type: 'number', maximum: 1 }, value: 1e14, want: 'expected 1e+14 to be at most 1' },
  { name: '12345678901234 still prints whole', schema: { type: 'number', maximum: 1 }, value: 12345678901234, want: 'expected 12345678901234 to be at most 1' },
  { name: '0.0001 prints whole', schema: { type: 'number', minimum: 1 }, value: 0.0001, want: 'expected 0.0001 to be at least 1' },
  { name: '0.00001 prints as 1e-05', schema: { type: 'number', minimum: 1 }, value: 0.00001, want: 'expected 1e-05 to be at least 1' },
  { name: '1/3 prints 14 significant digits', schema: { type: 'number', minimum: 1 }, value: 1 / 3, want: 'expected 0.33333333333333 to be at least 1' },
  { name: 'a fractional limit', schema: { type: 'number', maximum: 0.5 }, value: 0.75, want: 'expected 0.75 to be at most 0.5' },
];

const strings: Case[] = [
  { name: 'minLength', schema: { type: 'string', minLength: 1 }, value: '', want: 'string too short, expected at least 1, got 0' },
  { name: 'maxLength', schema: { type: 'string', maxLength: 256 }, value: 'x'.repeat(300), want: 'string too long, expected at most 256, got 300' },
  { name: 'lengths count code points (utf8_len)', schema: { type: 'string', maxLength: 3 }, value: 'éé😀', want: undefined },
  { name: 'lengths count code points, too long', schema: { type: 'string', maxLength: 2 }, value: 'éé😀', want: 'string too long, expected at most 2, got 3' },
  { name: 'minLength before pattern', schema: { type: 'string', minLength: 5, pattern: '^a' }, value: 'b', want: 'string too short, expected at least 5, got 1' },
  {
    name: 'pattern: both sides %q-quoted, backslashes doubled',
    schema: { type: 'string', pattern: '^\\S+$' }, value: 'a b',
    want: String.raw`failed to match pattern "^\\S+$" with "a b"`,
  },
  {
    name: 'pattern: quotes in the value are escaped',
    schema: { type: 'string', pattern: '^[a-z]+$' }, value: 'say "hi"',
    want: String.raw`failed to match pattern "^[a-z]+$" with "say \"hi\""`,
  },
  {
    name: 'pattern: a newline in the value is a backslash and a newline (%q)',
    schema: { type: 'string', pattern: '^[a-z]+$' }, value: 'a\nb',
    want: 'failed to match pattern "^[a-z]+$" with "a\\\nb"',
  },
  {
    name: 'pattern: other control characters are \\ddd when a digit follows, else short',
    schema: { type: 'string', pattern: '^[a-z]+$' }, value: 'a\r1\tb\u0000',
    want: 'failed to match pattern "^[a-z]+$" with "a\\0131\\9b\\0"',
  },
  { name: 'pattern is a search, not anchored', schema: { type: 'string', pattern: 'b' }, value: 'abc', want: undefined },
  { name: 'format ipv4', schema: { type: 'string', format: 'ipv4' }, value: '1.2.3', want: 'expect valid ipv4 address but got: 1.2.3' },
  { name: 'format ipv6', schema: { type: 'string', format: 'ipv6' }, value: '1.2.3.4', want: 'expect valid ipv6 address but got: 1.2.3.4' },
  { name: 'format is only checked on strings', schema: { format: 'ipv4' }, value: 5, want: undefined },
];

const arrays: Case[] = [
  { name: 'minItems', schema: { type: 'array', minItems: 1 }, value: [], want: 'expect array to have at least 1 items' },
  { name: 'minItems on {} (an empty Lua table)', schema: { type: 'array', minItems: 1 }, value: {}, want: 'expect array to have at least 1 items' },
  { name: 'maxItems', schema: { type: 'array', maxItems: 1 }, value: [1, 2], want: 'expect array to have at most 1 items' },
  { name: 'items are 1-based', schema: { type: 'array', items: { type: 'integer', maximum: 599 } }, value: [500, 600], want: 'failed to validate item 2: expected 600 to be at most 599' },
  { name: 'items: the first bad one', schema: { type: 'array', items: { type: 'string' } }, value: ['a', 1, true], want: 'failed to validate item 2: wrong type: expected string, got number' },
  { name: 'minItems before items', schema: { type: 'array', minItems: 3, items: { type: 'string' } }, value: [1], want: 'expect array to have at least 3 items' },
  { name: 'items before uniqueItems', schema: { type: 'array', items: { type: 'string' }, uniqueItems: true }, value: [1, 1], want: 'failed to validate item 1: wrong type: expected string, got number' },
  { name: 'uniqueItems', schema: { type: 'array', uniqueItems: true }, value: [200, 200], want: 'expected unique items but items 1 and 2 are equal' },
  { name: 'uniqueItems: the first repeat, with the first index of its value', schema: { type: 'array', uniqueItems: true }, value: [1, 2, 2, 1], want: 'expected unique items but items 2 and 3 are equal' },
  { name: 'uniqueItems: a later repeat of the first value', schema: { type: 'array', uniqueItems: true }, value: ['a', 'b', 'c', 'a'], want: 'expected unique items but items 1 and 4 are equal' },
  { name: 'uniqueItems: 1 and "1" differ', schema: { type: 'array', uniqueItems: true }, value: [1, '1'], want: undefined },
  { name: 'uniqueItems: equal objects', schema: { type: 'array', uniqueItems: true }, value: [{ a: 1 }, { b: 1 }, { a: 1 }], want: 'expected unique items but items 1 and 3 are equal' },
];

const objects: Case[] = [
  { name: 'required', schema: { type: 'object', properties: { a: {} }, required: ['a'] }, value: {}, want: 'property "a" is required' },
  { name: 'required that is not among properties', schema: { type: 'object', required: ['x'] }, value: { y: 1 }, want: 'property "x" is required' },
  { name: 'required: null is present (cjson.null)', schema: { type: 'object', required: ['a'] }, value: { a: null }, want: undefined },
  { name: 'required on [] (an empty Lua table)', schema: { type: 'object', required: ['a'] }, value: [], want: 'property "a" is required' },
  { name: 'properties nest their messages', schema: { type: 'object', properties: { up: { type: 'object', properties: { port: { type: 'integer' } } } } }, value: { up: { port: 'x' } }, want: 'property "up" validation failed: property "port" validation failed: wrong type: expected integer, got string' },
  { name: 'properties are checked in declaration order', schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } }, value: { b: 1, a: 1 }, want: 'property "a" validation failed: wrong type: expected string, got number' },
  { name: 'a bad property before a missing required one', schema: { type: 'object', properties: { a: { type: 'string' }, b: {} }, required: ['b'] }, value: { a: 1 }, want: 'property "a" validation failed: wrong type: expected string, got number' },
  { name: 'additionalProperties false', schema: { type: 'object', properties: { a: {} }, additionalProperties: false }, value: { a: 1, uri: '/' }, want: 'additional properties forbidden, found uri' },
  { name: 'additionalProperties comes after the properties', schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }, value: { uri: '/', a: 1 }, want: 'property "a" validation failed: wrong type: expected string, got number' },
  { name: 'additionalProperties: inherited names are not properties', schema: { type: 'object', properties: { a: {} }, additionalProperties: false }, value: { constructor: 1 }, want: 'additional properties forbidden, found constructor' },
  { name: 'additionalProperties as a schema', schema: { type: 'object', additionalProperties: { type: 'integer' } }, value: { a: 'x' }, want: 'failed to validate additional property a: wrong type: expected integer, got string' },
  { name: 'patternProperties: key bare, pattern quoted', schema: { type: 'object', patternProperties: { '.*': { type: 'integer' } } }, value: { '127.0.0.1:8080': '1' }, want: 'failed to validate 127.0.0.1:8080 (matching ".*"): wrong type: expected integer, got string' },
  { name: 'patternProperties cover additionalProperties', schema: { type: 'object', patternProperties: { '^x-': {} }, additionalProperties: false }, value: { 'x-a': 1, b: 2 }, want: 'additional properties forbidden, found b' },
  { name: 'minProperties', schema: { type: 'object', minProperties: 1 }, value: {}, want: 'expect object to have at least 1 properties' },
  { name: 'maxProperties', schema: { type: 'object', maxProperties: 1 }, value: { a: 1, b: 2 }, want: 'expect object to have at most 1 properties' },
  { name: 'a property name is %q-quoted', schema: { type: 'object', properties: { 'a"b': { type: 'string' } } }, value: { 'a"b': 1 }, want: 'property "a\\"b" validation failed: wrong type: expected string, got number' },
];

const combinators: Case[] = [
  { name: 'anyOf without required branches', schema: idSchema, value: 0, want: 'object matches none of the required' },
  { name: 'anyOf: a string id that fails the pattern', schema: idSchema, value: '*invalid', want: 'object matches none of the required' },
  { name: 'anyOf: an id of 65 characters', schema: idSchema, value: 'a'.repeat(65), want: 'object matches none of the required' },
  { name: 'anyOf: an integer id', schema: idSchema, value: 1, want: undefined },
  {
    name: 'anyOf with required branches lists them',
    schema: { type: 'object', anyOf: [{ required: ['active'] }, { required: ['active', 'passive'] }] }, value: { passive: {} },
    want: 'object matches none of the required: ["active"] or ["active","passive"]',
  },
  {
    name: 'anyOf lists only the branches that have required',
    schema: { anyOf: [{ type: 'string' }, { required: ['a'] }] }, value: { b: 1 },
    want: 'object matches none of the required: ["a"]',
  },
  { name: 'oneOf, none', schema: { oneOf: [{ required: ['nodes'] }, { required: ['service_name', 'discovery_type'] }] }, value: { type: 'roundrobin' }, want: 'value should match only one schema, but matches none' },
  { name: 'oneOf, both', schema: { oneOf: [{ required: ['nodes'] }, { required: ['service_name', 'discovery_type'] }] }, value: { nodes: {}, service_name: 's', discovery_type: 'dns' }, want: 'value should match only one schema, but matches both schemas 1 and 2' },
  { name: 'oneOf, both: the first two of three', schema: { oneOf: [{ type: 'integer' }, { type: 'number' }, { minimum: 0 }] }, value: 1, want: 'value should match only one schema, but matches both schemas 1 and 2' },
  { name: 'oneOf, exactly one', schema: { oneOf: [{ required: ['whitelist'] }, { required: ['blacklist'] }] }, value: { blacklist: [] }, want: undefined },
  { name: 'allOf names the failing branch', schema: { allOf: [{ type: 'object' }, { required: ['x'] }] }, value: {}, want: 'allOf 2 failed: property "x" is required' },
  { name: 'if/then: the inner error is dropped', schema: { if: { properties: { type: { enum: ['server'] } } }, then: { required: ['sni'] } }, value: { type: 'server' }, want: 'then clause did not match' },
  { name: 'if/then: a missing property satisfies the if', schema: { if: { properties: { type: { enum: ['server'] } } }, then: { required: ['sni'] } }, value: {}, want: 'then clause did not match' },
  { name: 'if/else', schema: { if: { properties: { type: { enum: ['server'] } } }, then: {}, else: { required: ['cert'] } }, value: { type: 'client' }, want: 'else clause did not match' },
  { name: 'not', schema: { not: { required: ['a', 'b'] } }, value: { a: 1, b: 2 }, want: "value wasn't supposed to match schema" },
  { name: 'not, passing', schema: { not: { required: ['a', 'b'] } }, value: { a: 1 }, want: undefined },
  { name: 'enum before anyOf', schema: { enum: ['a'], anyOf: [{ type: 'integer' }] }, value: 'b', want: 'matches none of the enum values' },
];

const dependencies: Case[] = [
  {
    name: 'dependencies: a list',
    schema: { type: 'object', properties: { name: {}, conf: {} }, dependencies: { name: ['conf'] } }, value: { name: 'x' },
    want: 'property "conf" is required when "name" is set',
  },
  {
    name: 'dependencies: a schema',
    schema: { type: 'object', properties: { client_cert: {}, client_key: {} }, dependencies: { client_cert: { required: ['client_key'] } } }, value: { client_cert: 'c' },
    want: 'failed to validate dependent schema for "client_cert": property "client_key" is required',
  },
  {
    name: 'dependencies: a not-schema',
    schema: { type: 'object', properties: { id: {} }, dependencies: { id: { not: { required: ['cert', 'key'] } } } }, value: { id: 1, cert: 'c', key: 'k' },
    want: 'failed to validate dependent schema for "id": value wasn\'t supposed to match schema',
  },
  {
    name: 'dependencies of a name outside properties',
    schema: { type: 'object', dependencies: { a: ['b'] } }, value: { a: 1 },
    want: 'property "b" is required when "a" is set',
  },
  {
    name: 'dependencies only apply when the property is present',
    schema: { type: 'object', properties: { name: {} }, dependencies: { name: ['conf'] } }, value: {},
    want: undefined,
  },
];

const defaults: Case[] = [
  {
    name: 'defaults fill absent properties',
    schema: { type: 'object', properties: { type: { type: 'string', default: 'roundrobin' }, hash_on: { type: 'string', default: 'vars' }, key: { type: 'string' } } },
    value: { key: 'remote_addr' }, want: undefined, after: { key: 'remote_addr', type: 'roundrobin', hash_on: 'vars' },
  },
  {
    name: 'a default never replaces a given value',
    schema: { type: 'object', properties: { type: { type: 'string', default: 'roundrobin' } } },
    value: { type: 'chash' }, want: undefined, after: { type: 'chash' },
  },
  {
    name: 'false and 0 defaults are injected too',
    schema: { type: 'object', properties: { verify: { type: 'boolean', default: false }, priority: { type: 'integer', default: 0 } } },
    value: {}, want: undefined, after: { verify: false, priority: 0 },
  },
  {
    name: 'defaults fill nested objects that are present',
    schema: { type: 'object', properties: { pool: { type: 'object', properties: { size: { type: 'integer', default: 320 } } } } },
    value: { pool: {} }, want: undefined, after: { pool: { size: 320 } },
  },
  {
    name: 'a nested object that is absent gets no defaults',
    schema: { type: 'object', properties: { pool: { type: 'object', properties: { size: { type: 'integer', default: 320 } } } } },
    value: {}, want: undefined, after: {},
  },
  {
    name: 'defaults reach array items through the matching anyOf branch',
    schema: { anyOf: [{ type: 'object', patternProperties: { '.*': { type: 'integer' } } }, { type: 'array', items: { type: 'object', properties: { priority: { type: 'integer', default: 0 } } } }] },
    value: [{ host: 'a' }], want: undefined, after: [{ host: 'a', priority: 0 }],
  },
  {
    name: 'a default is a copy, not shared',
    schema: { type: 'object', properties: { codes: { type: 'array', default: [200, 302] } } },
    value: {}, want: undefined, after: { codes: [200, 302] },
  },
  {
    name: 'an empty [] where an object is wanted is stored as {}',
    schema: { type: 'object', properties: { pool: { type: 'object', properties: { size: { type: 'integer', default: 320 } } } } },
    value: { pool: [] }, want: undefined, after: { pool: {} },
  },
  {
    name: 'an empty {} where an array is wanted is stored as []',
    schema: { type: 'object', properties: { certs: { type: 'array', items: { type: 'string' } } } },
    value: { certs: {} }, want: undefined, after: { certs: [] },
  },
];

const tables = [
  ['type', types], ['enum', enums], ['number', numbers], ['string', strings], ['array', arrays],
  ['object', objects], ['anyOf/oneOf/if/not', combinators], ['dependencies', dependencies], ['defaults', defaults],
] as const;

for (const [group, cases] of tables) {
  for (const c of cases) {
    test(`jsonschema ${group}: ${c.name}`, (t: TestContext) => {
      t.plan(2);
      const value: unknown = structuredClone(c.value);
      t.assert.strictEqual(check(c.schema, value), c.want);
      t.assert.deepStrictEqual(value, 'after' in c ? c.after : c.value);
    });
  }
}

test('jsonschema: a default value is cloned for each use', (t: TestContext) => {
  t.plan(2);
  const schema: Schema = { type: 'object', properties: { codes: { type: 'array', default: [200] } } };
  const a: { codes?: number[] } = {};
  const b: { codes?: number[] } = {};
  check(schema, a);
  check(schema, b);
  a.codes?.push(1);
  t.assert.deepStrictEqual(b.codes, [200]);
  t.assert.deepStrictEqual(schema.properties?.codes?.default, [200]);
});

test('jsonschema: a failing anyOf/oneOf/not branch leaves the value untouched', (t: TestContext) => {
  t.plan(2);
  const schema: Schema = {
    oneOf: [
      { type: 'object', properties: { a: { default: 1 } }, required: ['x'] },
      { type: 'object', properties: { b: { default: 2 } }, required: ['y'] },
    ],
  };
  const v = { y: 0 };
  t.assert.strictEqual(check(schema, v), undefined);
  t.assert.deepStrictEqual(v, { y: 0, b: 2 });
});
