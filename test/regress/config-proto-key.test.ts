// Regression (issue 14, found by the config-yaml fuzz target): a `__proto__` key in config.yaml was not a key but
// the prototype of its object after the ${{VAR}} substitution, so it was never reported as an unknown key, and what
// it held was read through the prototype by the schema check and the main process but lost when the config was
// copied to the workers. It is now an unknown key like any other.
import { test, type TestContext } from 'node:test';
import { ConfigError, parseConfig } from '../../src/controlplane/config/load.ts';

const load = (text: string): unknown => parseConfig(text, 'conf/config.yaml', '/tmp', {});

test('a __proto__ key in config.yaml is an unknown key, at the top level and inside a section', (t: TestContext) => {
  const cases: readonly [string, string][] = [
    ['__proto__: 1\n', 'conf/config.yaml:1: __proto__: unknown key'],
    ['apisix:\n  __proto__:\n    proxy_mode: stream\n', 'conf/config.yaml:2: apisix.__proto__: unknown key'],
    ['sluice:\n  workers: 2\n  __proto__: {workers: 0}\n', 'conf/config.yaml:3: sluice.__proto__: unknown key'],
  ];
  for (const [text, message] of cases) {
    t.assert.throws(() => load(text), (e: unknown) => e instanceof ConfigError && e.message === message, text);
  }
});
