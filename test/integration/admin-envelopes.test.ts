// Admin API envelopes (CONTRACT §3, APISIX 3.x v3 format): PUT/POST/GET/list/DELETE bodies and status codes,
// the 404 body, X-API-VERSION on every answer, HEAD /apisix/admin.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP, item, listOf, stored, type Clock } from '../fixtures/admin-helpers.ts';

const resources = [
  { name: 'stream_routes', body: { remote_addr: '127.0.0.1', upstream: UP }, value: { remote_addr: '127.0.0.1', upstream: stored(UP) } },
  { name: 'upstreams', body: UP, value: stored(UP) },
  { name: 'services', body: { name: 'svc', upstream: UP }, value: { name: 'svc', upstream: stored(UP) } },
] as const;

for (const r of resources) {
  test(`${r.name}: PUT creates (201), a second PUT replaces (200) keeping create_time`, async (t: TestContext) => {
    t.plan(6);
    const clock: Clock = { now: 1_700_000_000 };
    const g = await startTestGateway(t, {}, { now: () => clock.now });
    const created = await g.admin('PUT', `/apisix/admin/${r.name}/1`, r.body);
    t.assert.strictEqual(created.status, 201);
    t.assert.deepStrictEqual(created.json, {
      key: `/apisix/${r.name}/1`,
      value: { ...r.value, id: '1', create_time: 1_700_000_000, update_time: 1_700_000_000 },
    });
    clock.now += 60;
    const replaced = await g.admin('PUT', `/apisix/admin/${r.name}/1`, { ...r.body, desc: 'second' });
    t.assert.strictEqual(replaced.status, 200);
    t.assert.deepStrictEqual(replaced.json, {
      key: `/apisix/${r.name}/1`,
      value: { ...r.value, desc: 'second', id: '1', create_time: 1_700_000_000, update_time: 1_700_000_060 },
    });
    const got = await g.admin('GET', `/apisix/admin/${r.name}/1`);
    t.assert.deepStrictEqual(item(got).value, item(replaced).value);
    t.assert.ok(item(got).modifiedIndex > item(got).createdIndex, 'a replace keeps createdIndex and moves modifiedIndex');
  });

  test(`${r.name}: POST creates (201) under a 20-digit id, a new one each time`, async (t: TestContext) => {
    t.plan(7);
    const clock: Clock = { now: 1_700_000_000 };
    const g = await startTestGateway(t, {}, { now: () => clock.now });
    const a = await g.admin('POST', `/apisix/admin/${r.name}`, r.body);
    const b = await g.admin('POST', `/apisix/admin/${r.name}`, r.body);
    t.assert.strictEqual(a.status, 201);
    t.assert.strictEqual(b.status, 201);
    const id = item(a).value.id;
    t.assert.match(id, /^\d{20}$/);
    t.assert.deepStrictEqual(a.json, {
      key: `/apisix/${r.name}/${id}`,
      value: { ...r.value, id, create_time: 1_700_000_000, update_time: 1_700_000_000 },
    });
    t.assert.notStrictEqual(item(b).value.id, id);
    t.assert.match(item(b).key, new RegExp(`^/apisix/${r.name}/\\d{20}$`));
    const got = await g.admin('GET', item(a).key.replace('/apisix/', '/apisix/admin/'));
    t.assert.strictEqual(got.status, 200);
  });

  test(`${r.name}: GET one is {key, value, createdIndex, modifiedIndex}; /1 is not /10`, async (t: TestContext) => {
    t.plan(3);
    const clock: Clock = { now: 1_700_000_000 };
    const g = await startTestGateway(t, {}, { now: () => clock.now });
    await g.admin('PUT', `/apisix/admin/${r.name}/10`, r.body);
    const put = await g.admin('PUT', `/apisix/admin/${r.name}/1`, r.body);
    const rev = await g.gw.store.revision();
    const got = await g.admin('GET', `/apisix/admin/${r.name}/1`);
    t.assert.strictEqual(got.status, 200);
    t.assert.deepStrictEqual(got.json, { key: `/apisix/${r.name}/1`, value: item(put).value, createdIndex: rev, modifiedIndex: rev });
    const none = await g.admin('GET', `/apisix/admin/${r.name}/100`);
    t.assert.deepStrictEqual([none.status, none.json], [404, { message: 'Key not found' }]);
  });

  test(`${r.name}: the list is {list, total}, in key order, and {"list":[],"total":0} when empty`, async (t: TestContext) => {
    t.plan(4);
    const g = await startTestGateway(t);
    const empty = await g.admin('GET', `/apisix/admin/${r.name}`);
    t.assert.strictEqual(empty.status, 200);
    t.assert.strictEqual(empty.text, '{"list":[],"total":0}');
    for (const id of ['b', 'a', 'c']) await g.admin('PUT', `/apisix/admin/${r.name}/${id}`, r.body);
    const list = await g.admin('GET', `/apisix/admin/${r.name}`);
    t.assert.deepStrictEqual(
      listOf(list).list.map((i) => [i.key, i.value.id, typeof i.createdIndex, typeof i.modifiedIndex]),
      ['a', 'b', 'c'].map((id) => [`/apisix/${r.name}/${id}`, id, 'number', 'number']),
    );
    t.assert.strictEqual(listOf(list).total, 3);
  });

  test(`${r.name}: DELETE answers {"deleted":"1","key":...}; then GET and DELETE are 404 Key not found`, async (t: TestContext) => {
    t.plan(3);
    const g = await startTestGateway(t);
    await g.admin('PUT', `/apisix/admin/${r.name}/1`, r.body);
    const del = await g.admin('DELETE', `/apisix/admin/${r.name}/1`);
    t.assert.deepStrictEqual([del.status, del.text], [200, `{"deleted":"1","key":"/apisix/${r.name}/1"}`]);
    const get = await g.admin('GET', `/apisix/admin/${r.name}/1`);
    t.assert.deepStrictEqual([get.status, get.text], [404, '{"message":"Key not found"}']);
    const again = await g.admin('DELETE', `/apisix/admin/${r.name}/1`);
    t.assert.deepStrictEqual([again.status, again.json], [404, { message: 'Key not found' }]);
  });
}

test('POST stores the id as the 20-digit string and GET shows the same value', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  const post = await g.admin('POST', '/apisix/admin/stream_routes', { upstream: UP });
  const got = await g.admin('GET', `/apisix/admin/stream_routes/${item(post).value.id}`);
  t.assert.deepStrictEqual(item(got).value, item(post).value);
  t.assert.strictEqual(typeof item(got).value.id, 'string');
});

// Every answer carries X-API-VERSION: v3, errors included (CONTRACT §3).
const versioned = [
  { name: 'GET one', method: 'GET', path: '/apisix/admin/upstreams/1', status: 200 },
  { name: 'list', method: 'GET', path: '/apisix/admin/stream_routes', status: 200 },
  { name: 'PUT', method: 'PUT', path: '/apisix/admin/upstreams/2', body: UP, status: 201 },
  { name: 'DELETE', method: 'DELETE', path: '/apisix/admin/upstreams/1', status: 200 },
  { name: 'missing key → 401', method: 'GET', path: '/apisix/admin/upstreams', headers: { 'X-API-KEY': '' }, status: 401 },
  { name: 'bad body → 400', method: 'PUT', path: '/apisix/admin/upstreams/3', body: '{', status: 400 },
  { name: 'missing item → 404', method: 'GET', path: '/apisix/admin/upstreams/nope', status: 404 },
  { name: 'unknown resource → 404', method: 'GET', path: '/apisix/admin/foo', status: 404 },
  { name: 'PATCH stream route → 405', method: 'PATCH', path: '/apisix/admin/stream_routes/1', body: {}, status: 405 },
  { name: 'HEAD /apisix/admin → 200', method: 'HEAD', path: '/apisix/admin', status: 200 },
] as const;

for (const c of versioned) {
  test(`X-API-VERSION: v3 on ${c.name}`, async (t: TestContext) => {
    t.plan(2);
    const g = await startTestGateway(t);
    await g.admin('PUT', '/apisix/admin/upstreams/1', UP);
    const res = await g.admin(c.method, c.path, 'body' in c ? c.body : undefined, 'headers' in c ? c.headers : undefined);
    t.assert.strictEqual(res.status, c.status, res.text);
    t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
  });
}

test('HEAD /apisix/admin answers 200 with no body and needs no key', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  const res = await g.admin('HEAD', '/apisix/admin', undefined, { 'X-API-KEY': '' });
  t.assert.strictEqual(res.status, 200);
  t.assert.strictEqual(res.text, '');
});
