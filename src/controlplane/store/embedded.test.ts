import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { storeContract } from './contract.ts';
import { EmbeddedStore } from './embedded.ts';

storeContract('embedded', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-store-'));
  const store = new EmbeddedStore({ dir });
  return Promise.resolve({
    store,
    cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); },
    reopen: () => Promise.resolve(new EmbeddedStore({ dir })),
  });
});

test('embedded: a watch older than the compacted history asks for a resync', async (t: TestContext) => {
  t.plan(1);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-store-'));
  const store = new EmbeddedStore({ dir });
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  // 11,000 writes pass the 10,000-revision history window, so revision 1 is gone.
  for (let i = 0; i < 11_000; i++) store.putSync('/apisix/upstreams/x', { id: 'x', i });
  const reason = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no resync')), 5000);
    const w = store.watch(0, {
      onEvents: () => { clearTimeout(timer); w.close(); reject(new Error('got events')); },
      onResync: (r) => { clearTimeout(timer); w.close(); resolve(r); },
    });
  });
  t.assert.match(reason, /compacted/);
});

test('embedded: the database lives in the data dir and holds the JSON values', async (t: TestContext) => {
  t.plan(2);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-store-'));
  const store = new EmbeddedStore({ dir });
  t.after(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
  await store.put('/apisix/upstreams/1', { id: '1', marker: 'findme-42' });
  t.assert.ok(readdirSync(dir).includes('sluice.db'));
  const raw = readdirSync(dir).map((f) => readFileSync(path.join(dir, f)).toString('latin1')).join('');
  t.assert.ok(raw.includes('findme-42'), 'value is in the db or its WAL');
});
