// Regression (issue 14, found by the config-yaml fuzz target): a key under nginx_config named like an Object
// property (`constructor`, `toString`, `__proto__`) was looked up in the table of supported nginx_config keys
// through the prototype: parseConfig threw `TypeError: known.includes is not a function` instead of warning that
// the key is not supported. Such keys are now warned about and ignored like any other unsupported key.
import { test, type TestContext } from 'node:test';
import { parseConfig } from '../../src/controlplane/config/load.ts';

test('nginx_config keys named like Object properties are warned about and ignored', (t: TestContext) => {
  const text = 'nginx_config:\n  constructor: {a: 1}\n  toString: 1\n  __proto__: {x: 1}\n  stream:\n    hasOwnProperty: 1\n';
  const loaded = parseConfig(text, 'conf/config.yaml', '/tmp', {});
  t.assert.deepStrictEqual(loaded.warnings, [
    'conf/config.yaml:2: nginx_config.constructor: not supported by Sluice, ignored',
    'conf/config.yaml:3: nginx_config.toString: not supported by Sluice, ignored',
    'conf/config.yaml:4: nginx_config.__proto__: not supported by Sluice, ignored',
    'conf/config.yaml:6: nginx_config.stream.hasOwnProperty: not supported by Sluice, ignored',
  ]);
});
