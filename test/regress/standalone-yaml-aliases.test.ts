// Regression (issue 14, found by the apisix-yaml fuzz target): conf/apisix.yaml items were read with the yaml
// package's toJSON(), which does not resolve aliases: an item written as `*anchor`, or an upstream shared with
// `upstream: *up`, became `{ source: 'anchor' }` and was skipped as "missing or invalid id" or as an invalid
// configuration. Aliases now resolve across the file; an alias without its anchor, or a "billion laughs" file, is
// refused as invalid YAML (the previous config stays), while many items may share one anchor.
import { test, type TestContext } from 'node:test';
import { parseStandalone } from '../../src/controlplane/store/yaml.ts';

const parse = (text: string): ReturnType<typeof parseStandalone> => parseStandalone(text, 'conf/apisix.yaml', '/apisix', true);

test('apisix.yaml: items and values written as aliases are read as what their anchor holds', (t: TestContext) => {
  const p = parse(`upstreams:
  - id: u1
    nodes: &nodes {"127.0.0.1:1980": 1}
stream_routes:
  - &r1
    id: r1
    upstream: &up {nodes: *nodes, type: roundrobin}
  - id: r2
    upstream: *up
  - *r1
#END
`);
  if ('error' in p) throw new Error(p.error);
  const up = { nodes: { '127.0.0.1:1980': 1 }, type: 'roundrobin' };
  t.assert.deepStrictEqual([...p.items], [
    ['/apisix/upstreams/u1', { id: 'u1', nodes: { '127.0.0.1:1980': 1 } }],
    ['/apisix/stream_routes/r1', { id: 'r1', upstream: up }],
    ['/apisix/stream_routes/r2', { id: 'r2', upstream: up }],
  ]);
  t.assert.deepStrictEqual(p.lines, [{ level: 'error', text: 'conf/apisix.yaml:10: stream_routes[2]: skipped: duplicate id r1' }]);
});

test('apisix.yaml: an alias without its anchor, or an alias bomb, refuses the file; many items may share an anchor', (t: TestContext) => {
  const unresolved = parse('stream_routes:\n  - {id: r1, upstream: *nope}\n#END\n');
  t.assert.ok('error' in unresolved && /^conf\/apisix\.yaml:\d+: invalid YAML: Unresolved alias .*: nope; keeping the previous config$/.test(unresolved.error));
  const lines = ['upstreams:', '  - {id: u0, nodes: {"127.0.0.1:1": 1}, labels: &l0 {a: b}}'];
  for (let i = 1; i <= 9; i++) lines.push(`  - {id: u${i}, nodes: {"127.0.0.1:1": 1}, desc: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]}`);
  const bomb = parse(`${lines.join('\n')}\n#END\n`);
  t.assert.ok('error' in bomb && bomb.error.includes('invalid YAML: Excessive alias count'));
  const routes = Array.from({ length: 300 }, (_, i) => `  - {id: r${i}, upstream: *up}`);
  const many = parse(`upstreams:\n  - &up {id: u1, nodes: {"127.0.0.1:1": 1}}\nstream_routes:\n${routes.join('\n')}\n#END\n`);
  t.assert.ok(!('error' in many) && many.items.size === 301 && many.lines.length === 0);
});
