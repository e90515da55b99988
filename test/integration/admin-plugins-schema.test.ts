// GET /apisix/admin/plugins/list?subsystem=stream (the enabled stream plugins, highest priority first),
// GET /apisix/admin/plugins/{name} and ?all=true, and
// POST /apisix/admin/schema/validate/{resource} (the schema only: 200 with no body, or 400 with the bare message).
import { suite, test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP, err } from '../fixtures/admin-helpers.ts';

const lists = [
  { name: 'the default stream_plugins (APISIX\'s five, no prometheus)', config: {}, want: ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'traffic-split', 'syslog'] },
  { name: 'all six, given in another order', config: { stream_plugins: ['syslog', 'prometheus', 'traffic-split', 'mqtt-proxy', 'limit-conn', 'ip-restriction'] }, want: ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'traffic-split', 'prometheus', 'syslog'] },
  { name: 'a subset', config: { stream_plugins: ['syslog', 'ip-restriction'] }, want: ['ip-restriction', 'syslog'] },
  { name: 'none', config: { stream_plugins: [] }, want: [] },
] as const;

suite('plugins/list', { concurrency: true }, () => {
  for (const c of lists) {
    test(`plugins/list?subsystem=stream: ${c.name}`, async (t: TestContext) => {
      t.plan(2);
      const g = await startTestGateway(t, c.config);
      const res = await g.admin('GET', '/apisix/admin/plugins/list?subsystem=stream');
      t.assert.strictEqual(res.status, 200);
      t.assert.deepStrictEqual(res.json, c.want);
    });
  }
});

test('plugins/list without subsystem is the http list, which Sluice (L4 only) leaves empty', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  t.assert.deepStrictEqual((await g.admin('GET', '/apisix/admin/plugins/list')).json, []);
  t.assert.deepStrictEqual((await g.admin('GET', '/apisix/admin/plugins/list?subsystem=http')).json, []);
});

test('plugins/{name}?subsystem=stream answers the plugin\'s schema; all=true its declaration; errors as APISIX', async (t: TestContext) => {
  const g = await startTestGateway(t, { stream_plugins: ['syslog', 'ip-restriction'] });
  const sys = await g.admin('GET', '/apisix/admin/plugins/syslog?subsystem=stream');
  t.assert.strictEqual(sys.status, 200);
  const schema = sys.json as { required: string[]; properties: Record<string, { default?: unknown }> };
  t.assert.deepStrictEqual(schema.required, ['host', 'port']);
  t.assert.strictEqual(schema.properties.batch_max_size?.default, 1000, 'the batch processor\'s keys are part of it, as APISIX\'s wrap_schema adds them');
  const all = await g.admin('GET', '/apisix/admin/plugins?all=true&subsystem=stream');
  const decl = all.json as Record<string, { priority: number; metadata_schema?: unknown }>;
  t.assert.deepStrictEqual(Object.keys(decl).sort(), ['ip-restriction', 'syslog']);
  t.assert.deepStrictEqual([decl.syslog?.priority, decl['ip-restriction']?.priority], [401, 3000]);
  t.assert.ok(decl.syslog?.metadata_schema !== undefined && decl['ip-restriction']?.metadata_schema === undefined);
  t.assert.deepStrictEqual((await g.admin('GET', '/apisix/admin/plugins?all=true')).json, {}, 'the http subsystem has none');
  const cases: [string, number, string][] = [
    ['/apisix/admin/plugins/syslog', 404, 'plugin not found in subsystem http'],
    ['/apisix/admin/plugins/limit-conn?subsystem=stream', 404, 'plugin not found in subsystem stream'],
    ['/apisix/admin/plugins/syslog?subsystem=dns', 400, 'unsupported subsystem: dns'],
    ['/apisix/admin/plugins/syslog?subsystem=stream&schema_type=consumer', 400, 'not found schema'],
  ];
  for (const [path, status, msg] of cases) {
    const r = await g.admin('GET', path);
    t.assert.deepStrictEqual([r.status, r.json], [status, err(msg)], path);
  }
});

test('a plugin enabled in stream_plugins can be used, one that is not cannot', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t, { stream_plugins: ['prometheus'] });
  const ok = await g.admin('PUT', '/apisix/admin/stream_routes/1', { plugins: { prometheus: {} }, upstream: UP });
  t.assert.deepStrictEqual([ok.status, (ok.json as { value: { plugins: unknown } }).value.plugins], [201, { prometheus: { prefer_name: false } }]);
  const no = await g.admin('PUT', '/apisix/admin/stream_routes/2', { plugins: { 'ip-restriction': { whitelist: ['10.0.0.0/8'] } }, upstream: UP });
  t.assert.deepStrictEqual([no.status, no.json], [400, err('unknown plugin [ip-restriction]')]);
});

test('plugin confs get their schema defaults when stored', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t);
  const res = await g.admin('PUT', '/apisix/admin/stream_routes/1', {
    plugins: { 'ip-restriction': { whitelist: ['10.0.0.0/8', '::1'] }, 'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 } },
    upstream: UP,
  });
  t.assert.deepStrictEqual((res.json as { value: { plugins: unknown } }).value.plugins, {
    'ip-restriction': { whitelist: ['10.0.0.0/8', '::1'], message: 'Your IP address is not allowed' },
    'mqtt-proxy': { protocol_name: 'MQTT', protocol_level: 4 },
  });
});

const validations = [
  { name: 'a good stream route', res: 'stream_routes', body: { remote_addr: '127.0.0.1', upstream: UP }, status: 200, want: undefined },
  { name: 'a stream route with an HTTP field', res: 'stream_routes', body: { uri: '/x', upstream: UP }, status: 400, want: err('additional properties forbidden, found uri') },
  { name: 'a stream route with a bad remote_addr', res: 'stream_routes', body: { remote_addr: '1.2.3.4.5' }, status: 400, want: err('property "remote_addr" validation failed: object matches none of the required') },
  { name: 'a stream route with a bad inline upstream', res: 'stream_routes', body: { upstream: { nodes: UP.nodes, timeout: { connect: 0, send: 1, read: 1 } } }, status: 400, want: err('property "upstream" validation failed: property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0') },
  { name: 'only the schema: an address the checker refuses passes', res: 'stream_routes', body: { remote_addr: ':/8' }, status: 200, want: undefined },
  { name: 'only the schema: a missing upstream_id passes', res: 'stream_routes', body: { upstream_id: 'nope' }, status: 200, want: undefined },
  { name: 'only the schema: an unknown plugin passes', res: 'stream_routes', body: { plugins: { nope: {} } }, status: 200, want: undefined },
  { name: 'only the schema: create_time passes', res: 'stream_routes', body: { create_time: 1 }, status: 200, want: undefined },
  { name: 'a good upstream', res: 'upstreams', body: UP, status: 200, want: undefined },
  { name: 'an upstream without nodes', res: 'upstreams', body: { type: 'roundrobin' }, status: 400, want: err('value should match only one schema, but matches none') },
  { name: 'a good service', res: 'services', body: { name: 's', upstream_id: 1 }, status: 200, want: undefined },
  { name: 'a service with a bad id', res: 'services', body: { id: 'a b' }, status: 400, want: err('property "id" validation failed: object matches none of the required') },
  { name: 'a body that is not an object', res: 'upstreams', body: '[1]', status: 400, want: err('wrong type: expected object, got table') },
  { name: 'no body (Lua nil)', res: 'upstreams', body: undefined, status: 400, want: err('wrong type: expected object, got nil') },
  { name: 'broken JSON', res: 'upstreams', body: '{', status: 400, want: undefined },
] as const;

suite('schema/validate', { concurrency: true }, () => {
  for (const c of validations) {
    test(`POST schema/validate/${c.res}: ${c.name}`, async (t: TestContext) => {
      t.plan(3);
      const g = await startTestGateway(t);
      const rev = await g.gw.store.revision();
      const res = await g.admin('POST', `/apisix/admin/schema/validate/${c.res}`, c.body);
      t.assert.strictEqual(res.status, c.status, res.text);
      if (c.name === 'broken JSON') t.assert.match((res.json as { error_msg: string }).error_msg, /^invalid request body: /);
      else t.assert.deepStrictEqual(res.json, c.want);
      t.assert.strictEqual(await g.gw.store.revision(), rev, 'validation writes nothing');
    });
  }
});

test('schema/validate/stream_routes answers even with proxy_mode http (it only checks the schema)', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t, { apisix: { proxy_mode: 'http' } });
  const res = await g.admin('POST', '/apisix/admin/schema/validate/stream_routes', { upstream: UP });
  t.assert.strictEqual(res.status, 200);
});
