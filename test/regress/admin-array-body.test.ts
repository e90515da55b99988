// Regression (issue 14, found from outside): `PUT /apisix/admin/stream_routes/x` with the body `[]` was stored as an
// empty route with 201 (cjson reads [] as the empty table, and APISIX does the same). A body that is not a JSON
// object is now a 400 with error_msg for every object resource, and nothing is written.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';

// the request bodies as sent (text), and the Lua type the error names (APISIX's words: an array is a table)
const BODIES: readonly [string, string][] = [
  ['[]', 'table'],
  ['[1]', 'table'],
  ['[{}]', 'table'],
  ['"x"', 'string'],
  ['5', 'number'],
  ['true', 'boolean'],
];
const RESOURCES = ['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata'] as const;

test('a body that is not a JSON object is refused with 400 on PUT and POST of every resource, and nothing is stored', async (t: TestContext) => {
  const g = await startTestGateway(t, { stream_plugins: ['ip-restriction', 'limit-conn', 'prometheus'] });
  const rev0: unknown = (await g.admin('GET', '/apisix/admin/stream_routes')).json;
  for (const res of RESOURCES) {
    const id = res === 'plugin_metadata' ? 'prometheus' : 'x';
    for (const [text, got] of BODIES) {
      const put = await g.admin('PUT', `/apisix/admin/${res}/${id}`, text);
      t.assert.deepStrictEqual([put.status, put.json], [400, { error_msg: `invalid configuration: wrong type: expected object, got ${got}` }], `PUT ${res} ${text}`);
      if (res !== 'plugin_metadata') {
        const post = await g.admin('POST', `/apisix/admin/${res}`, text);
        t.assert.deepStrictEqual([post.status, post.json], [400, { error_msg: `invalid configuration: wrong type: expected object, got ${got}` }], `POST ${res} ${text}`);
      }
    }
    t.assert.equal((await g.admin('GET', `/apisix/admin/${res}/${id}`)).status, 404, `${res}/${id} was not stored`);
    if (res !== 'plugin_metadata') t.assert.equal(((await g.admin('GET', `/apisix/admin/${res}`)).json as { total: number }).total, 0);
  }
  t.assert.deepStrictEqual((await g.admin('GET', '/apisix/admin/stream_routes')).json, rev0);
  // the schema check answers the same for an array, and still accepts an object
  const v = await g.admin('POST', '/apisix/admin/schema/validate/stream_routes', []);
  t.assert.deepStrictEqual([v.status, v.json], [400, { error_msg: 'wrong type: expected object, got table' }]);
  t.assert.equal((await g.admin('POST', '/apisix/admin/schema/validate/stream_routes', { upstream: { nodes: { '127.0.0.1:1': 1 } } })).status, 200);
});
