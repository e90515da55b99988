// Regression (issue 14, found by the apisix-yaml fuzz target): a top-level key of conf/apisix.yaml named like an
// Object property (`constructor`, `toString`, `__proto__`) was taken for a resource section (the check was `in`,
// which sees inherited properties), and its items were stored as /apisix/constructor/<id>. Such keys are now
// ignored with the "not a stream resource" warning, like any other unknown section.
import { test, type TestContext } from 'node:test';
import { parseStandalone } from '../../src/controlplane/store/yaml.ts';

test('apisix.yaml: sections named like Object properties are not stream resources', (t: TestContext) => {
  const p = parseStandalone('constructor:\n  - {id: 1}\ntoString:\n  - {id: 2}\n__proto__:\n  - {id: 3}\n#END\n', 'conf/apisix.yaml', '/apisix', true);
  if ('error' in p) throw new Error(p.error);
  t.assert.equal(p.items.size, 0);
  t.assert.deepStrictEqual(p.lines, ['constructor', 'toString', '__proto__'].map((s) => ({ level: 'warn', text: `conf/apisix.yaml: ${s}: not a stream resource; ignored` })));
});
