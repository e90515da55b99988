// The standalone yaml store (deployment.role: data_plane). It refuses writes, so the store contract suite runs through
// a test-side writer that edits conf/apisix.yaml the way an operator does (rewrite the file, `#END` last) and waits
// for the store's own polling to pick the change up: the read side (get, list, revisions, watch events) is the store's.
// What cannot apply to a file, and why:
// - ttl: a file has no leases;
// - compare-and-set: the store refuses writes, so the check would only test the writer;
// - reopen: revisions count the loads since the store opened (a file keeps no revision history), so a new store
//   on the same file starts again at revision 1;
// - nextId: handed out by the writer (the store refuses it, like every write); the case tests only the writer;
// - keys outside the five sections (the list case's `stream_routesX`) cannot be written into the file; they are left out.
// The contract's values are not APISIX objects (`{ id: 'd' }` is no valid upstream), so its store runs with
// `validate: false`; validation with line numbers is tested by the cases below.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { Logger } from '../../observe/log.ts';
import { storeContract } from './contract.ts';
import {
  type ConfigStore, type DeleteResult, type JsonObject, type ListResult, type PutOptions, type PutResult, type StoreItem,
  type WatchEvent, type WatchHandlers, type Watcher, StoreReadOnlyError, formatId,
} from './store.ts';
import { parseStandalone, READ_ONLY_MESSAGE, YamlStore } from './yaml.ts';

const SECTIONS = ['stream_routes', 'upstreams', 'services', 'ssls', 'plugin_metadata'] as const;

function capture(): { log: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines, text: () => lines.map((l) => String(l.msg)).join('\n') };
}

function tempFile(t: TestContext | undefined): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-yaml-'));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, file: path.join(dir, 'apisix.yaml') };
}

/** A ConfigStore whose writes rewrite the YAML file and wait for the YamlStore's polling to load it. */
class FileWriter implements ConfigStore {
  readonly kind = 'yaml' as const;
  readonly yaml: YamlStore;
  readonly #file: string;
  readonly #items = new Map<string, JsonObject>();
  #ids = 0;
  #last = '';

  constructor(file: string, yaml: YamlStore) {
    this.#file = file;
    this.yaml = yaml;
  }

  get(key: string): Promise<StoreItem | undefined> { return this.yaml.get(key); }
  list(prefix: string): Promise<ListResult> { return this.yaml.list(prefix); }
  revision(): Promise<number> { return this.yaml.revision(); }
  watch(from: number, h: WatchHandlers): Watcher { return this.yaml.watch(from, h); }
  close(): Promise<void> { return this.yaml.close(); }

  async put(key: string, value: JsonObject, opts: PutOptions = {}): Promise<PutResult> {
    if (opts.ttl !== undefined || opts.expectModifiedIndex !== undefined) throw new Error('a file has no leases and no compare-and-set');
    const prev = await this.yaml.get(key);
    this.#items.set(key, value);
    await this.#write();
    const item = await this.yaml.get(key);
    if (item === undefined) {
      // Not one of the five sections: it cannot be in the file (see the header).
      return { item: { key, value, createdIndex: 0, modifiedIndex: 0 }, prev: undefined };
    }
    return { item, prev };
  }

  async delete(key: string): Promise<DeleteResult | undefined> {
    const prev = await this.yaml.get(key);
    if (!this.#items.delete(key)) return undefined;
    await this.#write();
    return prev === undefined ? undefined : { item: prev, revision: await this.yaml.revision() };
  }

  nextId(): Promise<string> {
    return Promise.resolve(formatId(++this.#ids));
  }

  /** Renders every section (JSON is YAML's flow style), `#END` last; waits until the store made a new revision. */
  async #write(): Promise<void> {
    const out: string[] = [];
    for (const section of SECTIONS) {
      const items = [...this.#items].filter(([k]) => k.startsWith(`/apisix/${section}/`));
      if (items.length === 0) continue;
      out.push(`${section}:`);
      for (const [, v] of items) out.push(`  - ${JSON.stringify(v)}`);
    }
    const text = `${out.join('\n')}\n#END\n`;
    if (text === this.#last) return;
    this.#last = text;
    const before = await this.yaml.revision();
    writeFileSync(this.#file, text);
    const t0 = performance.now();
    while (await this.yaml.revision() === before) {
      if (performance.now() - t0 > 2000) throw new Error('the yaml store did not pick up the edit within 2 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

storeContract('yaml (test-side file writer)', () => {
  const { dir, file } = tempFile(undefined);
  writeFileSync(file, '#END\n');
  const yaml = new YamlStore({ file, shown: 'conf/apisix.yaml', log: pino({ level: 'silent' }), validate: false });
  return Promise.resolve({
    store: new FileWriter(file, yaml),
    cleanup: async () => { await yaml.close(); rmSync(dir, { recursive: true, force: true }); },
  });
}, {
  skip: {
    ttl: 'a file has no leases',
    cas: 'the yaml store refuses writes; a compare-and-set would only test the test-side writer',
    reopen: 'a yaml store numbers its loads from 1; a new store on the same file starts again (no revision history in a file)',
  },
});

const ROUTES = (port: number): string => `stream_routes:
  - id: r1
    upstream_id: u1
  - id: r2
    server_port: ${port}
    upstream:
      nodes:
        "127.0.0.1:1980": 1
upstreams:
  - id: u1
    nodes:
      "127.0.0.1:1995": 1
    type: roundrobin
`;

function open(t: TestContext, file: string, log: Logger = pino({ level: 'silent' })): YamlStore {
  const s = new YamlStore({ file, shown: 'conf/apisix.yaml', log });
  t.after(() => s.close());
  return s;
}

const keys = async (s: YamlStore): Promise<string[]> => (await s.list('/apisix/')).items.map((i) => i.key);

test('yaml: a file without #END is not loaded; the previous config stays until #END appears', async (t: TestContext) => {
  t.plan(5);
  const { file } = tempFile(t);
  writeFileSync(file, `${ROUTES(9100)}#END\n`);
  const { log, text } = capture();
  const s = open(t, file, log);
  t.assert.deepEqual(await keys(s), ['/apisix/stream_routes/r1', '/apisix/stream_routes/r2', '/apisix/upstreams/u1']);
  writeFileSync(file, 'stream_routes:\n  - id: only\n'); // an editor half way through writing
  t.assert.equal(s.reload(), false);
  t.assert.deepEqual(await keys(s), ['/apisix/stream_routes/r1', '/apisix/stream_routes/r2', '/apisix/upstreams/u1']);
  t.assert.match(text(), /no #END line/);
  writeFileSync(file, 'stream_routes:\n  - id: only\n#END\n');
  s.reload();
  t.assert.deepEqual(await keys(s), ['/apisix/stream_routes/only']);
});

test('yaml: an invalid item is skipped and logged with its line; the rest applies', async (t: TestContext) => {
  t.plan(5);
  const { file } = tempFile(t);
  const body = `stream_routes:
  - id: good
    upstream_id: u1
  - id: bad
    server_port: "not a port"
  - id: "has space"
  - id: good
upstreams:
  - id: u1
    nodes: {"127.0.0.1:1995": 1}
routes:
  - id: http
#END
`;
  writeFileSync(file, body);
  const { log, text } = capture();
  const s = open(t, file, log);
  t.assert.deepEqual(await keys(s), ['/apisix/stream_routes/good', '/apisix/upstreams/u1']);
  t.assert.match(text(), /^conf\/apisix\.yaml:4: stream_routes\[1\]: skipped: invalid configuration: .*server_port/m);
  t.assert.match(text(), /^conf\/apisix\.yaml:6: stream_routes\[2\]: skipped: missing or invalid id$/m);
  t.assert.match(text(), /^conf\/apisix\.yaml:7: stream_routes\[3\]: skipped: duplicate id good$/m);
  t.assert.match(text(), /routes: not a stream resource; ignored/);
});

test('yaml: invalid YAML keeps the previous config and names the line', async (t: TestContext) => {
  t.plan(3);
  const { file } = tempFile(t);
  writeFileSync(file, `${ROUTES(9100)}#END\n`);
  const { log, text } = capture();
  const s = open(t, file, log);
  const rev = await s.revision();
  writeFileSync(file, 'stream_routes:\n  - id: x\n   bad: [indent\n#END\n');
  s.reload();
  t.assert.equal(await s.revision(), rev);
  t.assert.equal((await keys(s)).length, 3);
  t.assert.match(text(), /conf\/apisix\.yaml:\d+: invalid YAML: .*keeping the previous config/);
});

test('yaml: writes are refused with StoreReadOnlyError', async (t: TestContext) => {
  t.plan(3);
  const { file } = tempFile(t);
  writeFileSync(file, '#END\n');
  const s = open(t, file);
  await t.assert.rejects(() => s.put(), (e: unknown) => e instanceof StoreReadOnlyError && e.message === READ_ONLY_MESSAGE);
  await t.assert.rejects(() => s.delete(), StoreReadOnlyError);
  await t.assert.rejects(() => s.nextId(), StoreReadOnlyError);
});

test('yaml: an edit of the same size with the same mtime is still seen (coarse file timestamps)', async (t: TestContext) => {
  t.plan(2);
  const { file } = tempFile(t);
  const at = new Date(Date.now() - 1000);
  writeFileSync(file, `${ROUTES(9100)}#END\n`);
  utimesSync(file, at, at);
  const s = open(t, file);
  // Same length, same mtime: only the content tells the two versions apart.
  writeFileSync(file, `${ROUTES(9200)}#END\n`);
  utimesSync(file, at, at);
  t.assert.equal(s.reload(), true, 'the edit is loaded');
  t.assert.equal((await s.get('/apisix/stream_routes/r2'))?.value.server_port, 9200);
});

test('yaml: a watch started just before a reload gets its replay first, then the new events, in order', async (t: TestContext) => {
  t.plan(2);
  const { file } = tempFile(t);
  writeFileSync(file, 'upstreams:\n  - {id: a, nodes: {"127.0.0.1:1": 1}}\n#END\n');
  const s = open(t, file);
  writeFileSync(file, 'upstreams:\n  - {id: a, nodes: {"127.0.0.1:1": 1}}\n  - {id: b, nodes: {"127.0.0.1:2": 1}}\n#END\n');
  s.reload();
  const got: WatchEvent[] = [];
  const done = new Promise<void>((resolve) => {
    const w = s.watch(0, { onEvents: (e) => { got.push(...e); if (got.length >= 3) { w.close(); resolve(); } }, onResync: () => resolve() });
  });
  // A reload in the same turn as watch(): its events must queue behind the replay.
  writeFileSync(file, 'upstreams:\n  - {id: b, nodes: {"127.0.0.1:2": 1}}\n#END\n');
  s.reload();
  await done;
  t.assert.deepEqual(got.map((e) => `${e.type} ${e.type === 'put' ? e.item.key : e.key}`), ['put /apisix/upstreams/a', 'put /apisix/upstreams/b', 'delete /apisix/upstreams/a']);
  t.assert.deepEqual(got.map((e) => e.revision), [1, 2, 3]);
});

test('parseStandalone: ${{VAR}} and ${{VAR:=default}} as in APISIX; a missing variable refuses the file, naming it and the line', (t: TestContext) => {
  const text = `stream_routes:
  - id: 1
    server_port: \${{SR_PORT:=9100}}
    upstream:
      nodes:
        - host: \${{SR_HOST}}
          port: 6379
          weight: 1
      type: roundrobin
#END
`;
  const ok = parseStandalone(text, 'conf/apisix.yaml', '/apisix', true, { SR_HOST: '127.0.0.1' });
  t.assert.ok(!('error' in ok), JSON.stringify(ok));
  const route = 'items' in ok ? ok.items.get('/apisix/stream_routes/1') : undefined;
  t.assert.equal(route?.server_port, 9100);
  t.assert.deepStrictEqual((route?.upstream as { nodes: unknown[] } | undefined)?.nodes, [{ host: '127.0.0.1', port: 6379, weight: 1 }]);
  const missing = parseStandalone(text, 'conf/apisix.yaml', '/apisix', true, {});
  t.assert.deepStrictEqual(missing, { error: "conf/apisix.yaml:2: stream_routes[0].upstream.nodes[0].host: can't find environment variable SR_HOST (set it, or give a default: ${{SR_HOST:=value}}); keeping the previous config" });
});
