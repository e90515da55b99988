// Admin API keys and roles (CONTRACT §3, APISIX admin/init.lua check_token) and deployment.admin.allow_admin.
import { suite, test, type TestContext } from 'node:test';
import { ADMIN_KEY, VIEWER_KEY, startTestGateway } from '../fixtures/gateway.ts';
import { UP, item } from '../fixtures/admin-helpers.ts';

const NO_KEY = { 'X-API-KEY': '' };
const denied = (description: string) => ({ error_msg: 'failed to check token', description });

// Where the key comes from; the fixture's X-API-KEY header is removed ('') unless the case sets it.
const accepted = [
  { name: 'X-API-KEY header', query: '', headers: { 'X-API-KEY': ADMIN_KEY } },
  { name: '?api_key=', query: `?api_key=${ADMIN_KEY}`, headers: NO_KEY },
  { name: 'x_api_key cookie', query: '', headers: { ...NO_KEY, Cookie: `other=1; x_api_key=${ADMIN_KEY}` } },
  { name: 'viewer key for GET', query: '', headers: { 'X-API-KEY': VIEWER_KEY } },
] as const;

suite('admin keys that are accepted', { concurrency: true }, () => {
  for (const c of accepted) {
    test(`the key in the ${c.name} is accepted for GET`, async (t: TestContext) => {
      t.plan(3);
      const g = await startTestGateway(t);
      await g.admin('PUT', '/apisix/admin/upstreams/1', UP);
      const one = await g.admin('GET', `/apisix/admin/upstreams/1${c.query}`, undefined, c.headers);
      t.assert.strictEqual(one.status, 200, one.text);
      t.assert.strictEqual(item(one).value.id, '1');
      const list = await g.admin('GET', `/apisix/admin/upstreams${c.query}`, undefined, c.headers);
      t.assert.strictEqual(list.status, 200, list.text);
    });
  }
});

test('the admin key in ?api_key= and in the cookie may write', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  const q = await g.admin('PUT', `/apisix/admin/upstreams/1?api_key=${ADMIN_KEY}`, UP, NO_KEY);
  t.assert.strictEqual(q.status, 201, q.text);
  const c = await g.admin('PUT', '/apisix/admin/upstreams/2', UP, { ...NO_KEY, Cookie: `x_api_key=${ADMIN_KEY}` });
  t.assert.strictEqual(c.status, 201, c.text);
});

const refused = [
  { name: 'no key at all', path: '/apisix/admin/upstreams', headers: NO_KEY, why: 'missing apikey' },
  { name: 'no key, on plugins/list', path: '/apisix/admin/plugins/list?subsystem=stream', headers: NO_KEY, why: 'missing apikey' },
  { name: 'a wrong header key', path: '/apisix/admin/upstreams', headers: { 'X-API-KEY': 'nope' }, why: 'wrong apikey' },
  { name: 'a wrong query key', path: '/apisix/admin/upstreams?api_key=nope', headers: NO_KEY, why: 'wrong apikey' },
  { name: 'a wrong cookie key', path: '/apisix/admin/upstreams', headers: { ...NO_KEY, Cookie: 'x_api_key=nope' }, why: 'wrong apikey' },
  // APISIX reads ?api_key= first and only the first key present counts: a right header does not rescue it.
  { name: 'a wrong query key with a right header', path: '/apisix/admin/upstreams?api_key=nope', headers: { 'X-API-KEY': ADMIN_KEY }, why: 'wrong apikey' },
  // An empty ?api_key= is present (Lua's "" is true), so it is a wrong key, not a missing one.
  { name: 'an empty ?api_key=', path: '/apisix/admin/upstreams?api_key=', headers: NO_KEY, why: 'wrong apikey' },
  // The cookie value is taken raw, as nginx's $cookie_x_api_key: a bad %-escape is just a wrong key.
  { name: 'a cookie with a bad %-escape', path: '/apisix/admin/upstreams', headers: { ...NO_KEY, Cookie: 'x_api_key=%E0%A4%A' }, why: 'wrong apikey' },
] as const;

suite('admin keys that are refused', { concurrency: true }, () => {
  for (const c of refused) {
    test(`401 for ${c.name}`, async (t: TestContext) => {
      t.plan(3);
      const g = await startTestGateway(t);
      const res = await g.admin('GET', c.path, undefined, c.headers);
      t.assert.strictEqual(res.status, 401);
      t.assert.deepStrictEqual(res.json, denied(c.why));
      t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
    });
  }
});

const viewerWrites = [
  { method: 'PUT', path: '/apisix/admin/upstreams/1', body: UP },
  { method: 'POST', path: '/apisix/admin/upstreams', body: UP },
  { method: 'PATCH', path: '/apisix/admin/upstreams/1', body: { desc: 'x' } },
  { method: 'DELETE', path: '/apisix/admin/upstreams/1' },
  { method: 'PUT', path: '/apisix/admin/stream_routes/1', body: { upstream: UP } },
  { method: 'POST', path: '/apisix/admin/schema/validate/upstreams', body: UP },
] as const;

suite('viewer keys', { concurrency: true }, () => {
  for (const c of viewerWrites) {
    test(`a viewer key may not ${c.method} ${c.path}, and nothing changes`, async (t: TestContext) => {
      t.plan(3);
      const g = await startTestGateway(t);
      await g.admin('PUT', '/apisix/admin/upstreams/1', UP);
      const rev = await g.gw.store.revision();
      const res = await g.admin(c.method, c.path, 'body' in c ? c.body : undefined, { 'X-API-KEY': VIEWER_KEY });
      t.assert.strictEqual(res.status, 401);
      t.assert.deepStrictEqual(res.json, denied('invalid method for role viewer'));
      t.assert.strictEqual(await g.gw.store.revision(), rev);
    });
  }
});

test('admin_key_required: false lets requests without a key through', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t, { deployment: { admin: { admin_key_required: false } } });
  const put = await g.admin('PUT', '/apisix/admin/upstreams/1', UP, NO_KEY);
  t.assert.strictEqual(put.status, 201, put.text);
  const get = await g.admin('GET', '/apisix/admin/upstreams/1', undefined, NO_KEY);
  t.assert.strictEqual(get.status, 200);
});

suite('allow_admin', { concurrency: true }, () => {
  const outside = [
    { method: 'GET', path: '/apisix/admin/upstreams', headers: {} },
    { method: 'PUT', path: '/apisix/admin/upstreams/1', headers: {} },
    { method: 'GET', path: '/apisix/admin/upstreams', headers: NO_KEY },
    { method: 'HEAD', path: '/apisix/admin', headers: NO_KEY },
  ] as const;
  for (const c of outside) {
    test(`a loopback client outside allow_admin [10.0.0.0/8] gets 403 for ${c.method} ${c.path}${c.headers === NO_KEY ? ' without a key' : ''}`, async (t: TestContext) => {
      t.plan(4);
      const g = await startTestGateway(t, { deployment: { admin: { allow_admin: ['10.0.0.0/8'] } } });
      const rev = await g.gw.store.revision();
      const res = await g.admin(c.method, c.path, c.method === 'PUT' ? UP : undefined, c.headers);
      t.assert.strictEqual(res.status, 403);
      t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
      if (c.method === 'HEAD') t.assert.strictEqual(res.text, '');
      else t.assert.deepStrictEqual(res.json, { error_msg: 'access to the Admin API from 127.0.0.1 is not allowed by deployment.admin.allow_admin' });
      t.assert.strictEqual(await g.gw.store.revision(), rev);
    });
  }

  test('a loopback client inside allow_admin [127.0.0.1/32] is served', async (t: TestContext) => {
    t.plan(1);
    const g = await startTestGateway(t, { deployment: { admin: { allow_admin: ['10.0.0.0/8', '127.0.0.1/32'] } } });
    const res = await g.admin('GET', '/apisix/admin/upstreams');
    t.assert.strictEqual(res.status, 200);
  });
});
