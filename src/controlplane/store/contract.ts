// The behaviour suite every ConfigStore provider must pass (embedded now; etcd and yaml later).
// A provider's test file calls storeContract() with a factory that makes a fresh, empty store.
import { suite, test, type TestContext } from 'node:test';
import type { ConfigStore, WatchEvent } from './store.ts';

export interface StoreFixture {
  readonly store: ConfigStore;
  /** Stops and removes whatever the factory started. */
  cleanup(): Promise<void>;
  /** Reopens the same backing data as a new store instance (durability across restarts). */
  reopen?(): Promise<ConfigStore>;
}

export interface ContractOptions {
  /** Cases a provider cannot support, each with the reason (printed as the skip message). */
  readonly skip?: Partial<Record<'ttl' | 'reopen' | 'cas', string>>;
}

function collect(store: ConfigStore, from: number, want: number, timeoutMs = 5000): Promise<WatchEvent[]> {
  return new Promise((resolve, reject) => {
    const got: WatchEvent[] = [];
    const timer = setTimeout(() => { w.close(); reject(new Error(`watch got ${got.length}/${want} events`)); }, timeoutMs);
    const w = store.watch(from, {
      onEvents(evs) {
        got.push(...evs);
        if (got.length >= want) { clearTimeout(timer); w.close(); resolve(got); }
      },
      onResync(reason) { clearTimeout(timer); w.close(); reject(new Error(`unexpected resync: ${reason}`)); },
    });
  });
}

export function storeContract(name: string, make: () => Promise<StoreFixture>, opts: ContractOptions = {}): void {
  suite(`ConfigStore contract: ${name}`, () => {
    test('put then get returns the value with revisions', async (t: TestContext) => {
      t.plan(6);
      const f = await make();
      t.after(() => f.cleanup());
      const r0 = await f.store.revision();
      const { item, prev } = await f.store.put('/apisix/upstreams/1', { id: '1', nodes: { '127.0.0.1:80': 1 } });
      t.assert.equal(prev, undefined);
      t.assert.ok(item.modifiedIndex > r0, 'revision increases');
      t.assert.equal(item.createdIndex, item.modifiedIndex);
      const got = await f.store.get('/apisix/upstreams/1');
      t.assert.deepEqual(got?.value, { id: '1', nodes: { '127.0.0.1:80': 1 } });
      t.assert.equal(got?.modifiedIndex, item.modifiedIndex);
      t.assert.equal(await f.store.get('/apisix/upstreams/2'), undefined);
    });

    test('replacing keeps createdIndex and bumps modifiedIndex', async (t: TestContext) => {
      t.plan(4);
      const f = await make();
      t.after(() => f.cleanup());
      const a = await f.store.put('/apisix/services/s', { id: 's', name: 'a' });
      const b = await f.store.put('/apisix/services/s', { id: 's', name: 'b' });
      t.assert.equal(b.item.createdIndex, a.item.createdIndex);
      t.assert.ok(b.item.modifiedIndex > a.item.modifiedIndex);
      t.assert.deepEqual(b.prev?.value, { id: 's', name: 'a' });
      t.assert.equal((await f.store.get('/apisix/services/s'))?.value.name, 'b');
    });

    test('list by prefix is sorted by key and excludes other prefixes', async (t: TestContext) => {
      t.plan(3);
      const f = await make();
      t.after(() => f.cleanup());
      await f.store.put('/apisix/stream_routes/2', { id: '2' });
      await f.store.put('/apisix/stream_routes/1', { id: '1' });
      await f.store.put('/apisix/stream_routesX/9', { id: '9' });
      await f.store.put('/apisix/upstreams/1', { id: '1' });
      const res = await f.store.list('/apisix/stream_routes/');
      t.assert.deepEqual(res.items.map((i) => i.key), ['/apisix/stream_routes/1', '/apisix/stream_routes/2']);
      t.assert.equal(res.revision, await f.store.revision());
      t.assert.equal((await f.store.list('/apisix/nothing/')).items.length, 0);
    });

    test('delete returns the old item, then the key is gone', async (t: TestContext) => {
      t.plan(4);
      const f = await make();
      t.after(() => f.cleanup());
      await f.store.put('/apisix/upstreams/d', { id: 'd' });
      const r = await f.store.revision();
      const del = await f.store.delete('/apisix/upstreams/d');
      t.assert.deepEqual(del?.item.value, { id: 'd' });
      t.assert.equal(await f.store.get('/apisix/upstreams/d'), undefined);
      t.assert.ok((await f.store.revision()) > r, 'a delete is a revision');
      t.assert.equal(await f.store.delete('/apisix/upstreams/d'), undefined);
    });

    test('nextId gives unique 20-digit ids in increasing order', async (t: TestContext) => {
      t.plan(3);
      const f = await make();
      t.after(() => f.cleanup());
      const a = await f.store.nextId();
      const b = await f.store.nextId();
      t.assert.match(a, /^\d{20}$/);
      t.assert.match(b, /^\d{20}$/);
      t.assert.ok(b > a, `${b} > ${a}`);
    });

    test('watch replays history after fromRevision, then live events, in order', async (t: TestContext) => {
      t.plan(5);
      const f = await make();
      t.after(() => f.cleanup());
      const r0 = await f.store.revision();
      await f.store.put('/apisix/upstreams/1', { id: '1' });
      await f.store.put('/apisix/upstreams/2', { id: '2' });
      const pending = collect(f.store, r0, 4);
      await f.store.delete('/apisix/upstreams/1');
      await f.store.put('/apisix/upstreams/2', { id: '2', v: 2 });
      const evs = await pending;
      t.assert.deepEqual(evs.map((e) => e.type), ['put', 'put', 'delete', 'put']);
      const revs = evs.map((e) => e.revision);
      t.assert.deepEqual(revs, [...revs].sort((x, y) => x - y));
      const last = evs[3];
      t.assert.equal(last?.type === 'put' ? last.item.value.v : undefined, 2);
      t.assert.equal(evs[2]?.type === 'delete' ? evs[2].key : '', '/apisix/upstreams/1');
      t.assert.equal(revs[3], await f.store.revision());
    });

    test('a watch from the current revision sees only new writes', async (t: TestContext) => {
      t.plan(2);
      const f = await make();
      t.after(() => f.cleanup());
      await f.store.put('/apisix/upstreams/old', { id: 'old' });
      const pending = collect(f.store, await f.store.revision(), 1);
      await f.store.put('/apisix/upstreams/new', { id: 'new' });
      const evs = await pending;
      t.assert.equal(evs.length, 1);
      t.assert.equal(evs[0]?.type === 'put' ? evs[0].item.key : '', '/apisix/upstreams/new');
    });

    test('compare-and-set refuses a stale modifiedIndex and changes nothing', { skip: opts.skip?.cas }, async (t: TestContext) => {
      t.plan(3);
      const f = await make();
      t.after(() => f.cleanup());
      const a = await f.store.put('/apisix/upstreams/c', { id: 'c', n: 1 });
      await f.store.put('/apisix/upstreams/c', { id: 'c', n: 2 }, { expectModifiedIndex: a.item.modifiedIndex });
      await t.assert.rejects(f.store.put('/apisix/upstreams/c', { id: 'c', n: 3 }, { expectModifiedIndex: a.item.modifiedIndex }));
      t.assert.equal((await f.store.get('/apisix/upstreams/c'))?.value.n, 2);
      await t.assert.rejects(f.store.put('/apisix/upstreams/c', { id: 'c', n: 4 }, { expectModifiedIndex: 0 }));
    });

    test('an item with ttl expires', { skip: opts.skip?.ttl }, async (t: TestContext) => {
      t.plan(3);
      const f = await make();
      t.after(() => f.cleanup());
      await f.store.put('/apisix/upstreams/t', { id: 't' }, { ttl: 1 });
      t.assert.ok(await f.store.get('/apisix/upstreams/t'));
      const pending = collect(f.store, await f.store.revision(), 1, 4000);
      const evs = await pending;
      t.assert.equal(evs[0]?.type, 'delete');
      t.assert.equal(await f.store.get('/apisix/upstreams/t'), undefined);
    });

    test('data survives reopening the store', { skip: opts.skip?.reopen }, async (t: TestContext) => {
      t.plan(3);
      const f = await make();
      t.after(() => f.cleanup());
      if (f.reopen === undefined) throw new Error('fixture has no reopen()');
      const a = await f.store.put('/apisix/stream_routes/r', { id: 'r', server_port: 9100 });
      const id = await f.store.nextId();
      await f.store.close();
      const s2 = await f.reopen();
      t.after(() => s2.close());
      const got = await s2.get('/apisix/stream_routes/r');
      t.assert.deepEqual(got, a.item);
      t.assert.ok((await s2.nextId()) > id, 'ids keep increasing after a restart');
      t.assert.equal(await s2.revision(), a.item.modifiedIndex);
    });
  });
}
