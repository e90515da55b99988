// Admin API lists (APISIX v3_adapter.lua): page / page_size (10–500), sorted by createdIndex only when paging,
// total counted after filtering and before paging; name (regex), label (key present) and filter= (service_id,
// upstream_id on stream routes).
import { suite, test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { UP, err, ids, listOf, must, type AdminGateway } from '../fixtures/admin-helpers.ts';

/** Creates stream routes with these ids, in this order (so createdIndex order = array order). */
async function routes(g: AdminGateway, idList: readonly string[], extra: (id: string, i: number) => object = () => ({})): Promise<void> {
  for (const [i, id] of idList.entries()) await must(g, 'PUT', `/apisix/admin/stream_routes/${id}`, { upstream: UP, ...extra(id, i) });
}

/** r01..rNN created newest-id-first: key order is the reverse of creation order. */
function reversedIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `r${String(n - i).padStart(2, '0')}`);
}

const pages = [
  { name: 'page 1 of 25 by 10', query: 'page=1&page_size=10', want: (c: string[]) => c.slice(0, 10) },
  { name: 'page 2 of 25 by 10', query: 'page=2&page_size=10', want: (c: string[]) => c.slice(10, 20) },
  { name: 'page 3 of 25 by 10 is the last 5', query: 'page=3&page_size=10', want: (c: string[]) => c.slice(20) },
  { name: 'a page past the end is empty', query: 'page=4&page_size=10', want: () => [] },
  { name: 'page=-1 is page 1', query: 'page=-1&page_size=10', want: (c: string[]) => c.slice(0, 10) },
  { name: 'page=0 is page 1', query: 'page=0&page_size=10', want: (c: string[]) => c.slice(0, 10) },
  { name: 'page_size 500 is allowed', query: 'page=1&page_size=500', want: (c: string[]) => c },
  { name: 'page_size without page does not page (key order)', query: 'page_size=10', want: (c: string[]) => [...c].sort() },
  { name: 'page without page_size does not page (key order)', query: 'page=2', want: (c: string[]) => [...c].sort() },
  // v3_adapter runs tonumber() on both; a non-number means "no paging", not an error.
  { name: 'a non-numeric page_size does not page', query: 'page=1&page_size=abc', want: (c: string[]) => [...c].sort() },
  { name: 'an empty page_size does not page', query: 'page=1&page_size=', want: (c: string[]) => [...c].sort() },
  { name: 'a non-numeric page does not page', query: 'page=x&page_size=10', want: (c: string[]) => [...c].sort() },
] as const;

suite('paging', { concurrency: true }, () => {
  for (const c of pages) {
    test(`list paging: ${c.name}`, async (t: TestContext) => {
      t.plan(3);
      const g = await startTestGateway(t);
      const created = reversedIds(25);
      await routes(g, created);
      const res = await g.admin('GET', `/apisix/admin/stream_routes?${c.query}`);
      t.assert.strictEqual(res.status, 200, res.text);
      t.assert.deepStrictEqual(ids(res), c.want(created));
      t.assert.strictEqual(listOf(res).total, 25, 'total counts every item, not the page');
    });
  }

  const badSizes = ['9', '501', '0', '-10', '1e3'] as const;
  for (const size of badSizes) {
    test(`list paging: page_size=${size} → 400 page_size must be between 10 and 500`, async (t: TestContext) => {
      t.plan(2);
      const g = await startTestGateway(t);
      const res = await g.admin('GET', `/apisix/admin/upstreams?page=1&page_size=${size}`);
      t.assert.strictEqual(res.status, 400);
      t.assert.deepStrictEqual(res.json, err('page_size must be between 10 and 500'));
    });
  }
});

test('without paging the list is in key order, with paging in creation order', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  await routes(g, ['c', 'a', 'b']);
  t.assert.deepStrictEqual(ids(await g.admin('GET', '/apisix/admin/stream_routes')), ['a', 'b', 'c']);
  t.assert.deepStrictEqual(ids(await g.admin('GET', '/apisix/admin/stream_routes?page=1&page_size=10')), ['c', 'a', 'b']);
});

test('a PUT that replaces an item keeps its place in the paged order', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t);
  await routes(g, ['c', 'a', 'b']);
  await must(g, 'PUT', '/apisix/admin/stream_routes/c', { upstream: UP, desc: 'again' });
  t.assert.deepStrictEqual(ids(await g.admin('GET', '/apisix/admin/stream_routes?page=1&page_size=10')), ['c', 'a', 'b']);
});

const filters = [
  { name: 'name=foo matches as a regex anywhere', query: 'name=foo', want: ['1', '2', '4'] },
  { name: 'name=^foo-\\d$ is a regex', query: `name=${encodeURIComponent('^foo-\\d$')}`, want: ['1', '2'] },
  { name: 'name matching nothing', query: 'name=zzz', want: [] },
  { name: 'label=env: items that have the label key', query: 'label=env', want: ['1', '3'] },
  { name: 'label=team', query: 'label=team', want: ['2'] },
  { name: 'label=prod is a key, not a value', query: 'label=prod', want: [] },
  { name: 'name and label together (AND)', query: 'name=foo&label=env', want: ['1'] },
  { name: 'filter=service_id=1', query: `filter=${encodeURIComponent('service_id=1')}`, want: ['1', '4'] },
  { name: 'filter=service_id%3D2', query: 'filter=service_id%3D2', want: ['2'] },
  { name: 'filter=upstream_id=u1', query: `filter=${encodeURIComponent('upstream_id=u1')}`, want: ['3'] },
  { name: 'filter with two fields (AND)', query: `filter=${encodeURIComponent('service_id=1&upstream_id=u1')}`, want: [] },
  { name: 'filter plus name', query: `filter=${encodeURIComponent('service_id=1')}&name=bar`, want: ['4'] },
] as const;

suite('filters', { concurrency: true }, () => {
  for (const c of filters) {
    test(`list filter: ${c.name}`, async (t: TestContext) => {
      t.plan(2);
      const g = await startTestGateway(t);
      await must(g, 'PUT', '/apisix/admin/upstreams/u1', UP);
      await must(g, 'PUT', '/apisix/admin/services/1', { upstream: UP });
      await must(g, 'PUT', '/apisix/admin/services/2', { upstream: UP });
      await must(g, 'PUT', '/apisix/admin/stream_routes/1', { name: 'foo-1', labels: { env: 'prod' }, service_id: 1 });
      await must(g, 'PUT', '/apisix/admin/stream_routes/2', { name: 'foo-2', labels: { team: 'x' }, service_id: '2' });
      await must(g, 'PUT', '/apisix/admin/stream_routes/3', { labels: { env: 'dev' }, upstream_id: 'u1' });
      await must(g, 'PUT', '/apisix/admin/stream_routes/4', { name: 'bar-foo', service_id: '1' });
      const res = await g.admin('GET', `/apisix/admin/stream_routes?${c.query}`);
      t.assert.deepStrictEqual(ids(res), c.want);
      t.assert.strictEqual(listOf(res).total, c.want.length, 'total is counted after filtering');
    });
  }
});

test('total is counted after filtering and before paging', async (t: TestContext) => {
  t.plan(3);
  const g = await startTestGateway(t);
  await routes(g, reversedIds(23), (_id, i) => ({ name: i % 2 === 0 ? `even-${i}` : `odd-${i}` }));
  const res = await g.admin('GET', '/apisix/admin/stream_routes?name=even&page=2&page_size=10');
  t.assert.strictEqual(listOf(res).total, 12);
  t.assert.strictEqual(listOf(res).list.length, 2);
  t.assert.deepStrictEqual(listOf(res).list.map((i) => i.value.name), ['even-20', 'even-22']);
});

test('filter= on upstreams (no filter fields) leaves the list whole', async (t: TestContext) => {
  t.plan(1);
  const g = await startTestGateway(t);
  await must(g, 'PUT', '/apisix/admin/upstreams/1', UP);
  await must(g, 'PUT', '/apisix/admin/upstreams/2', UP);
  t.assert.deepStrictEqual(ids(await g.admin('GET', `/apisix/admin/upstreams?filter=${encodeURIComponent('service_id=1')}`)), ['1', '2']);
});
