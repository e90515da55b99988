// Issue 9, standalone mode (deployment.role: data_plane, role_data_plane.config_provider: yaml): the gateway runs
// <prefix>/conf/apisix.yaml. Edits apply within 1 s; a file without `#END` is not applied; an invalid item is skipped
// and logged with its line while the rest applies; the Admin API answers reads and refuses writes with a 400.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../src/controlplane/config/load.ts';
import { READ_ONLY_MESSAGE } from '../../src/controlplane/store/yaml.ts';
import type { ListenerSpec } from '../../src/model/config.ts';
import { startGateway } from '../../src/process/gateway.ts';
import { captureLogger } from '../fixtures/etcd.ts';
import { item, listOf } from '../fixtures/admin-helpers.ts';
import { adminRequest, makePrefix, type AdminReply } from '../fixtures/gateway.ts';
import { ask, upstream, waitFor } from '../fixtures/upstream-helpers.ts';

interface Standalone {
  readonly port: number;
  readonly file: string;
  readonly lines: Record<string, unknown>[];
  admin(method: string, urlPath: string, body?: unknown): Promise<AdminReply>;
}

/** A data_plane gateway in-process, with its log captured; `yaml` (if given) is in place before it starts. */
async function startStandalone(t: TestContext, yaml?: string): Promise<Standalone> {
  const prefix = makePrefix(t, { deployment: { role: 'data_plane', role_data_plane: { config_provider: 'yaml' } } });
  const file = path.join(prefix, 'conf', 'apisix.yaml');
  if (yaml !== undefined) writeFileSync(file, yaml);
  const fromFile = loadConfig({ prefix });
  const listener: ListenerSpec = {
    proto: 'tcp', host: '127.0.0.1', port: 0, tls: false, proxyProtocol: false,
    proxyProtocolToUpstream: false, proxyProtocolToUpstreamVersion: 1, source: 'test',
  };
  const { log, lines } = captureLogger();
  const gw = await startGateway({ loaded: { ...fromFile, listeners: [listener] }, log });
  t.after(() => gw.close());
  const adminUrl = `http://127.0.0.1:${gw.admin?.port ?? 0}`;
  return { port: gw.port('tcp', '127.0.0.1', 0, listener.source), file, lines, admin: (m, p, b) => adminRequest(adminUrl, m, p, b) };
}

const config = (node: string, extra = ''): string => `stream_routes:
  - id: r1
    remote_addr: 127.0.0.1
    upstream_id: u1
upstreams:
  - id: u1
    type: roundrobin
    nodes:
      "${node}": 1
${extra}`;

test('standalone: the file applies within 1 s of each edit; a file without #END is not applied', async (t: TestContext) => {
  t.plan(6);
  const [one, two, three] = [await upstream(t), await upstream(t), await upstream(t)];
  const g = await startStandalone(t);
  t.assert.equal((await ask(g.port, { timeoutMs: 1000 })).data, '', 'no file yet: no route');

  writeFileSync(g.file, `${config(one.node)}#END\n`);
  const first = await waitFor(async () => (await ask(g.port)).data === one.node, 1000);
  t.assert.ok(first.ok, `the new file applies (${Math.round(first.ms)} ms)`);

  writeFileSync(g.file, `${config(two.node)}#END\n`);
  const edit = await waitFor(async () => (await ask(g.port)).data === two.node, 1000);
  t.assert.ok(edit.ok, `an edit applies (${Math.round(edit.ms)} ms)`);

  writeFileSync(g.file, config(three.node)); // no #END yet: still being written
  // the store has read it (it says so) and kept the previous config
  const seen = await waitFor(() => g.lines.some((l) => String(l.msg).includes('has no #END line yet')), 3000);
  t.assert.ok(seen.ok, 'the file without #END was read');
  t.assert.equal((await ask(g.port)).data, two.node, 'a file without #END is not applied');
  writeFileSync(g.file, `${config(three.node)}#END\n`);
  const done = await waitFor(async () => (await ask(g.port)).data === three.node, 1000);
  t.assert.ok(done.ok, `then applies once #END is there (${Math.round(done.ms)} ms)`);
});

test('standalone: an invalid item is skipped with its line logged; the rest applies', async (t: TestContext) => {
  t.plan(4);
  const [one, two] = [await upstream(t), await upstream(t)];
  const bad = `  - id: r2
    remote_addr: 127.0.0.2
    upstream:
      nodes: "not nodes"
  - id: r3
    remote_addr: 127.0.0.3
    upstream:
      nodes:
        "${two.node}": 1
`;
  const text = config(one.node).replace('upstreams:\n', `${bad}upstreams:\n`);
  const g = await startStandalone(t, `${text}#END\n`);
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.1' })).data, one.node);
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.3' })).data, two.node);
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.2', timeoutMs: 1000 })).data, '', 'the invalid route is not in force');
  const line = text.split('\n').indexOf('  - id: r2') + 1; // 1-based
  const msgs = g.lines.map((l) => String(l.msg));
  // The file is named relative to the working directory: `<...>/conf/apisix.yaml:<line>: stream_routes[1]: ...`.
  const want = new RegExp(`conf/apisix\\.yaml:${line}: stream_routes\\[1\\]: skipped: invalid configuration: `);
  t.assert.ok(msgs.some((m) => want.test(m)), `line ${line} logged:\n${msgs.join('\n')}`);
});

test('standalone: a route with an unknown plugin or a bad plugin conf is skipped (never served without its plugin) and logged once', async (t: TestContext) => {
  t.plan(6);
  const [one, two] = [await upstream(t), await upstream(t)];
  const routes = `  - id: p1
    remote_addr: 127.0.0.2
    plugins:
      ip-restriction:
        whitelist: "10.0.0.0/8"
    upstream:
      nodes:
        "${two.node}": 1
  - id: p2
    remote_addr: 127.0.0.3
    plugins:
      no-such-plugin: {}
    upstream:
      nodes:
        "${two.node}": 1
  - id: p3
    remote_addr: 127.0.0.4
    plugins:
      ip-restriction:
        whitelist: ["127.0.0.4"]
    upstream:
      nodes:
        "${two.node}": 1
`;
  const text = config(one.node).replace('upstreams:\n', `${routes}upstreams:\n`);
  const g = await startStandalone(t, `${text}#END\n`);
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.4' })).data, two.node, 'the valid plugin route is in force');
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.2', timeoutMs: 1000 })).data, '', 'bad conf: the route is not served');
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.3', timeoutMs: 1000 })).data, '', 'unknown plugin: the route is not served');
  // a second snapshot (an edit elsewhere) does not log the same skipped items again
  writeFileSync(g.file, `${text.replace(`"${one.node}": 1`, `"${one.node}": 2`)}#END\n`);
  await waitFor(async () => (await g.admin('GET', '/apisix/admin/upstreams/u1')).text.includes(`"${one.node}":2`), 2000);
  t.assert.equal((await ask(g.port, { localAddress: '127.0.0.1' })).data, one.node);
  const msgs = g.lines.map((l) => String(l.msg));
  t.assert.equal(msgs.filter((m) => /skipped/.test(m) && /\[ip-restriction\]: property "whitelist"/.test(m)).length, 1, msgs.join('\n'));
  t.assert.equal(msgs.filter((m) => /no-such-plugin/.test(m)).length, 1, msgs.join('\n'));
});

test('standalone: the Admin API reads the file and refuses writes with a 400 that says why', async (t: TestContext) => {
  t.plan(7);
  const one = await upstream(t);
  const g = await startStandalone(t, `${config(one.node)}#END\n`);
  t.assert.equal((await ask(g.port)).data, one.node, 'a file in place at start is in force when the gateway is up');
  const list = await g.admin('GET', '/apisix/admin/stream_routes');
  t.assert.deepEqual([list.status, listOf(list).total, listOf(list).list[0]?.value.upstream_id], [200, 1, 'u1']);
  const got = await g.admin('GET', '/apisix/admin/upstreams/u1');
  t.assert.deepEqual([got.status, item(got).value.nodes], [200, { [one.node]: 1 }]);
  const refused = [
    await g.admin('PUT', '/apisix/admin/stream_routes/r9', { upstream_id: 'u1' }),
    await g.admin('POST', '/apisix/admin/upstreams', { nodes: { [one.node]: 1 } }),
    await g.admin('DELETE', '/apisix/admin/stream_routes/r1'),
    await g.admin('PATCH', '/apisix/admin/upstreams/u1', { desc: 'x' }),
  ];
  t.assert.deepEqual(refused.map((r) => r.status), [400, 400, 400, 400]);
  t.assert.deepEqual([...new Set(refused.map((r) => (r.json as { error_msg?: string }).error_msg))], [READ_ONLY_MESSAGE]);
  t.assert.match(READ_ONLY_MESSAGE, /read-only .*data_plane.*apisix\.yaml/);
  t.assert.equal((await ask(g.port)).data, one.node, 'nothing changed');
});
