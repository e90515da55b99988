// plugin_metadata through the Admin API (issue 12): APISIX's bodies, status codes and error texts (apisix/admin/
// plugin_metadata.lua). Sluice refuses metadata for a plugin that takes none (APISIX injects an empty schema and
// stores whatever comes, which would be a setting that does nothing). What the metadata does on the wire is in
// plugin-syslog.test.ts (log_format from plugin_metadata/syslog, a change reaching the running plugin).
import { test, type TestContext } from 'node:test';
import { startTestGateway, VIEWER_KEY } from '../fixtures/gateway.ts';

const PATH = '/apisix/admin/plugin_metadata/syslog';

test('plugin_metadata: PUT creates (201) then replaces (200) with defaults filled; GET, list and DELETE as APISIX', async (t: TestContext) => {
  const g = await startTestGateway(t);
  const first = await g.admin('PUT', PATH, { log_format: { client: '$remote_addr' } });
  t.assert.equal(first.status, 201, first.text);
  const v = (first.json as { key: string; value: Record<string, unknown> });
  t.assert.equal(v.key, '/apisix/plugin_metadata/syslog');
  t.assert.deepEqual({ ...v.value, create_time: 0, update_time: 0 }, { log_format: { client: '$remote_addr' }, id: 'syslog', max_pending_entries: 8192, create_time: 0, update_time: 0 });
  const again = await g.admin('PUT', PATH, { log_format: { c: '$remote_addr' }, max_pending_entries: 10 });
  t.assert.equal(again.status, 200, again.text);
  const got = await g.admin('GET', PATH);
  t.assert.equal(got.status, 200);
  t.assert.deepEqual((got.json as { value: Record<string, unknown> }).value.log_format, { c: '$remote_addr' });
  t.assert.equal((got.json as { value: Record<string, unknown> }).value.max_pending_entries, 10);
  const list = await g.admin('GET', '/apisix/admin/plugin_metadata');
  t.assert.equal((list.json as { total: number }).total, 1);
  const del = await g.admin('DELETE', PATH);
  t.assert.deepEqual([del.status, del.json], [200, { deleted: '1', key: '/apisix/plugin_metadata/syslog' }]);
  t.assert.equal((await g.admin('GET', PATH)).status, 404);
});

test('plugin_metadata: bad bodies and names are 400 with APISIX\'s texts; POST and PATCH are not supported; viewers cannot write', async (t: TestContext) => {
  const g = await startTestGateway(t);
  const cases: [string, string, unknown, number, string | RegExp][] = [
    ['PUT', PATH, { log_format: 'text' }, 400, /^invalid configuration: property "log_format" validation failed: wrong type: expected object, got string$/],
    ['PUT', PATH, { max_pending_entries: 0 }, 400, /^invalid configuration: property "max_pending_entries" validation failed: /],
    ['PUT', '/apisix/admin/plugin_metadata/no-such-plugin', {}, 400, 'invalid plugin name'],
    ['PUT', '/apisix/admin/plugin_metadata/ip-restriction', { a: 1 }, 400, /^invalid configuration: plugin ip-restriction takes no metadata$/],
    ['POST', '/apisix/admin/plugin_metadata', { log_format: {} }, 405, 'not supported `POST` method for plugin_metadata'],
    ['PATCH', PATH, { log_format: {} }, 405, 'not supported `PATCH` method for plugin_metadata'],
  ];
  for (const [method, path, body, status, msg] of cases) {
    const r = await g.admin(method, path, body);
    t.assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
    const em = (r.json as { error_msg?: string }).error_msg ?? '';
    if (typeof msg === 'string') t.assert.equal(em, msg);
    else t.assert.match(em, msg);
  }
  t.assert.equal((await g.admin('GET', PATH)).status, 404, 'nothing was stored by the refused writes');
  const viewer = await g.admin('PUT', PATH, { log_format: {} }, { 'X-API-KEY': VIEWER_KEY });
  t.assert.equal(viewer.status, 401, viewer.text); // APISIX's answer to a viewer's write: failed to check token
});
