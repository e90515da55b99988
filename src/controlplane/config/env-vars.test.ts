import { test, type TestContext } from 'node:test';
import { EnvVarError, substituteEnv } from './env-vars.ts';

const ENV = { KEY: 's3cret', PORT: '9180', ON: 'true', OFF: 'false', EMPTY: '', HEX: '0x10', SPACED: ' 42 ', REF: '${{KEY}}' };

test('env vars: ${{VAR}} and ${{VAR:=default}} in strings, whole or inside; numbers and booleans from a whole value', (t: TestContext) => {
  const got = substituteEnv({
    a: '${{KEY}}', b: 'pre-${{ KEY }}-post', c: '${{PORT}}', d: '${{ON}}', e: '${{OFF}}', f: '${{MISSING:=fallback}}',
    g: '${{MISSING:= 8080 }}', h: '${{EMPTY:=unused}}', i: '${{HEX}}', j: '${{SPACED}}', k: '${{REF}}', l: 'port ${{PORT}}',
    m: [{ n: '${{KEY}}' }, 7, null, true], plain: 'no ${reference} here', num: 5,
  }, ENV);
  t.assert.deepStrictEqual(got, {
    a: 's3cret', b: 'pre-s3cret-post', c: 9180, d: true, e: false, f: 'fallback',
    g: 8080, h: '', i: 16, j: 42, k: '${{KEY}}', l: 'port 9180',
    m: [{ n: 's3cret' }, 7, null, true], plain: 'no ${reference} here', num: 5,
  });
});

test('env vars: a missing variable without a default, or a reference that is no name, is an error naming it and its path', (t: TestContext) => {
  const err = (v: unknown): EnvVarError => {
    try {
      substituteEnv(v, ENV);
    } catch (e) {
      if (e instanceof EnvVarError) return e;
      throw e;
    }
    throw new Error('no error');
  };
  const e1 = err({ deployment: { admin: { admin_key: [{ key: '${{ADMIN_KEY}}' }] } } });
  t.assert.deepStrictEqual(e1.segs, ['deployment', 'admin', 'admin_key', 0, 'key']);
  t.assert.equal(e1.message, "can't find environment variable ADMIN_KEY (set it, or give a default: ${{ADMIN_KEY:=value}})");
  const e2 = err({ x: '${{A=B}}' });
  t.assert.deepStrictEqual(e2.segs, ['x']);
  t.assert.match(e2.message, /^invalid environment variable reference \$\{\{A=B\}\}/);
  // the input is not changed by a failed substitution
  const input = { a: '${{KEY}}', b: '${{NOPE}}' };
  err(input);
  t.assert.deepStrictEqual(input, { a: '${{KEY}}', b: '${{NOPE}}' });
});
