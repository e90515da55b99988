// PATCH on upstreams and services (APISIX resource.lua patch): a whole-object merge (core.table.merge: objects
// merge, null deletes, arrays replace) or a sub-path patch (core.table.patch: the value at the path is replaced);
// the result is checked like a PUT; create_time stays, update_time moves.
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP, item, must, stored, type Clock, type Obj } from '../fixtures/admin-helpers.ts';

const T0 = 1_700_000_000;

interface Case {
  readonly name: string;
  readonly res: 'upstreams' | 'services';
  readonly before: Obj;
  readonly path: string;
  readonly body: unknown;
  /** The stored value afterwards, without id and timestamps. */
  readonly after: Obj;
}

const BASE_UP = { ...UP, desc: 'd', labels: { a: '1', b: '2' }, timeout: { connect: 1, send: 2, read: 3 } };

const cases: Case[] = [
  {
    name: 'a whole PATCH merges objects, null deletes a key, new keys are added',
    res: 'upstreams', before: BASE_UP, path: '', body: { desc: null, labels: { b: null, c: '3' }, retries: 2 },
    after: stored({ ...UP, labels: { a: '1', c: '3' }, timeout: { connect: 1, send: 2, read: 3 }, retries: 2 }),
  },
  {
    name: 'a whole PATCH merges into nodes (a map): a node is added',
    res: 'upstreams', before: UP, path: '', body: { nodes: { '127.0.0.2:1995': 2 } },
    after: stored({ ...UP, nodes: { '127.0.0.1:1995': 1, '127.0.0.2:1995': 2 } }),
  },
  {
    name: 'a whole PATCH removes one node with null',
    res: 'upstreams', before: { ...UP, nodes: { '127.0.0.1:1995': 1, '127.0.0.2:1995': 2 } }, path: '', body: { nodes: { '127.0.0.1:1995': null } },
    after: stored({ ...UP, nodes: { '127.0.0.2:1995': 2 } }),
  },
  {
    name: 'a whole PATCH replaces an array',
    res: 'upstreams', before: { nodes: [{ host: '127.0.0.1', port: 1, weight: 1 }, { host: '127.0.0.2', port: 2, weight: 1 }] }, path: '',
    body: { nodes: [{ host: '127.0.0.3', port: 3, weight: 5 }] },
    after: stored({ nodes: [{ host: '127.0.0.3', port: 3, weight: 5, priority: 0 }] }),
  },
  {
    name: 'a whole PATCH changes a scalar and keeps the rest',
    res: 'upstreams', before: BASE_UP, path: '', body: { type: 'least_conn' },
    after: stored({ ...BASE_UP, type: 'least_conn' }),
  },
  {
    name: 'a whole PATCH with the same id is fine',
    res: 'upstreams', before: UP, path: '', body: { id: '1', desc: 'x' },
    after: stored({ ...UP, desc: 'x' }),
  },
  {
    name: 'a sub-path PATCH of nodes replaces the whole nodes object',
    res: 'upstreams', before: { ...UP, nodes: { '127.0.0.1:1995': 1, '127.0.0.2:1995': 2 } }, path: '/nodes', body: { '127.0.0.9:80': 3 },
    after: stored({ ...UP, nodes: { '127.0.0.9:80': 3 } }),
  },
  {
    name: 'a sub-path PATCH of nodes with an array switches the form',
    res: 'upstreams', before: UP, path: '/nodes', body: [{ host: '127.0.0.9', port: 80, weight: 1 }],
    after: stored({ ...UP, nodes: [{ host: '127.0.0.9', port: 80, weight: 1, priority: 0 }] }),
  },
  {
    name: 'a sub-path PATCH sets a scalar (a JSON string body)',
    res: 'upstreams', before: BASE_UP, path: '/desc', body: '"new desc"',
    after: stored({ ...BASE_UP, desc: 'new desc' }),
  },
  {
    name: 'a sub-path PATCH two levels down',
    res: 'upstreams', before: BASE_UP, path: '/timeout/read', body: 30,
    after: stored({ ...BASE_UP, timeout: { connect: 1, send: 2, read: 30 } }),
  },
  {
    name: 'a sub-path PATCH creates a missing parent object',
    res: 'services', before: { name: 's' }, path: '/labels/env', body: '"prod"',
    after: { name: 's', labels: { env: 'prod' } },
  },
  {
    name: 'a whole PATCH of a service merges its inline upstream',
    res: 'services', before: { name: 's', upstream: UP }, path: '', body: { upstream: { retries: 1 }, desc: 'svc' },
    after: { name: 's', desc: 'svc', upstream: stored({ ...UP, retries: 1 }) },
  },
  {
    name: 'a whole PATCH of a service deletes its inline upstream and sets upstream_id',
    res: 'services', before: { name: 's', upstream: UP }, path: '', body: { upstream: null, upstream_id: 'u1' },
    after: { name: 's', upstream_id: 'u1' },
  },
];

for (const c of cases) {
  test(`PATCH /apisix/admin/${c.res}/1${c.path}: ${c.name}`, async (t: TestContext) => {
    t.plan(5);
    const clock: Clock = { now: T0 };
    const g = await startTestGateway(t, {}, { now: () => clock.now });
    await must(g, 'PUT', '/apisix/admin/upstreams/u1', UP);
    await must(g, 'PUT', `/apisix/admin/${c.res}/1`, c.before);
    clock.now = T0 + 100;
    const res = await g.admin('PATCH', `/apisix/admin/${c.res}/1${c.path}`, c.body);
    t.assert.strictEqual(res.status, 200, res.text);
    const want = { ...c.after, id: '1', create_time: T0, update_time: T0 + 100 };
    t.assert.deepStrictEqual(res.json, { key: `/apisix/${c.res}/1`, value: want });
    const got = await g.admin('GET', `/apisix/admin/${c.res}/1`);
    t.assert.deepStrictEqual(item(got).value, want);
    t.assert.ok(item(got).modifiedIndex > item(got).createdIndex, 'modifiedIndex moved');
    t.assert.strictEqual(item(got).createdIndex, (await g.gw.store.revision()) - 1, 'createdIndex kept');
  });
}

test('PATCH of a missing upstream is 404 Key not found and creates nothing', async (t: TestContext) => {
  t.plan(3);
  const g = await startTestGateway(t);
  const rev = await g.gw.store.revision();
  const res = await g.admin('PATCH', '/apisix/admin/upstreams/404', { nodes: { '127.0.0.1:1': 1 } });
  t.assert.deepStrictEqual([res.status, res.json], [404, { message: 'Key not found' }]);
  t.assert.strictEqual((await g.admin('GET', '/apisix/admin/upstreams/404')).status, 404);
  t.assert.strictEqual(await g.gw.store.revision(), rev);
});

test('PATCH of a missing sub-path item is 404 too', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t);
  const res = await g.admin('PATCH', '/apisix/admin/services/404/desc', '"x"');
  t.assert.deepStrictEqual([res.status, res.json], [404, { message: 'Key not found' }]);
});

test('PATCH that would make the upstream invalid is 400 and changes nothing', async (t: TestContext) => {
  t.plan(4);
  const g = await startTestGateway(t);
  await must(g, 'PUT', '/apisix/admin/upstreams/1', BASE_UP);
  const before = await g.admin('GET', '/apisix/admin/upstreams/1');
  const rev = await g.gw.store.revision();
  const res = await g.admin('PATCH', '/apisix/admin/upstreams/1', { desc: 'changed', timeout: { connect: 0 } });
  t.assert.strictEqual(res.status, 400);
  t.assert.deepStrictEqual(res.json, { error_msg: 'invalid configuration: property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0' });
  t.assert.strictEqual((await g.admin('GET', '/apisix/admin/upstreams/1')).text, before.text);
  t.assert.strictEqual(await g.gw.store.revision(), rev);
});

test('successive PATCHes build on each other', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t);
  await must(g, 'PUT', '/apisix/admin/upstreams/1', UP);
  await must(g, 'PATCH', '/apisix/admin/upstreams/1', { retries: 1 });
  await must(g, 'PATCH', '/apisix/admin/upstreams/1/nodes', { '127.0.0.5:5': 5 });
  await must(g, 'PATCH', '/apisix/admin/upstreams/1', { desc: 'three' });
  const got = await g.admin('GET', '/apisix/admin/upstreams/1');
  const { id: _id, create_time: _c, update_time: _u, ...rest } = item(got).value;
  t.assert.deepStrictEqual(rest, stored({ ...UP, nodes: { '127.0.0.5:5': 5 }, retries: 1, desc: 'three' }));
});
