// Regression (issue 14, found by the config-yaml fuzz target): an alias without its anchor, or a file whose aliases
// expand past the yaml package's maxAliasCount (a "billion laughs" file), made parseConfig throw the yaml package's
// ReferenceError instead of a ConfigError naming the file: the CLI printed a stack trace. Both are now refused as
// invalid YAML, quickly, with `conf/config.yaml:<line>: ...`.
import { test, type TestContext } from 'node:test';
import { ConfigError, parseConfig } from '../../src/controlplane/config/load.ts';

function laughs(levels: number): string {
  const lines = ['apisix:', '  node_listen:', '    a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= levels; i++) lines.push(`    a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

function refusal(text: string): ConfigError | undefined {
  try {
    parseConfig(text, 'conf/config.yaml', '/tmp', {});
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

test('an unresolved alias in config.yaml is a ConfigError that names it', (t: TestContext) => {
  const err = refusal('apisix:\n  proxy_mode: *mode\n');
  t.assert.ok(err !== undefined);
  t.assert.match(err.message, /^conf\/config\.yaml:\d+: \(top level\): invalid YAML: Unresolved alias .*: mode$/);
});

test('a billion-laughs config.yaml is refused as invalid YAML within a few milliseconds', (t: TestContext) => {
  const t0 = performance.now();
  const err = refusal(laughs(9));
  t.assert.ok(err !== undefined);
  t.assert.match(err.message, /^conf\/config\.yaml:\d+: \(top level\): invalid YAML: Excessive alias count/);
  t.assert.ok(performance.now() - t0 < 1000, 'refused without expanding the aliases');
  // a few aliases are fine
  t.assert.equal(refusal(laughs(1)), undefined);
});
