// `sluice start` as a real child process (CONTRACT §1): it refuses the well-known admin key beyond loopback before it
// binds anything, starts on loopback, and exits 0 on SIGTERM.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ADMIN_KEY, adminRequest, makePrefix } from '../fixtures/gateway.ts';
import { lastLine, runSluice, startTestChild } from '../fixtures/child.ts';

const F = 'conf/config.yaml';
const SECRET = 'a-secret-of-our-own-0123456789abcdef';

/** Holds a TCP port on every interface for the test, so a gateway that tried to bind it would fail differently. */
async function holdPort(t: TestContext): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '0.0.0.0', resolve));
  t.after(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const a = srv.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  return a.port;
}

/** 1-based line of the first line of the prefix's config.yaml that contains `needle`. */
function lineWith(prefix: string, needle: string): number {
  const lines = readFileSync(path.join(prefix, F), 'utf8').split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" not in config.yaml`);
  return i + 1;
}

const refusals = [
  {
    name: 'the default key on 0.0.0.0',
    ip: '0.0.0.0',
    admin: {},
    keyPath: 'deployment.admin.admin_key[0].key',
    line: (p: string) => lineWith(p, `key: ${ADMIN_KEY}`),
    why: /refusing to start: the Admin API listens on 0\.0\.0\.0 \(not loopback\) with the well-known default admin key edd1c9f034335f136f87ad84b625c8f1/,
  },
  {
    name: 'the default key second in the list, on [::]',
    ip: '::',
    admin: { admin_key: [{ name: 'ops', key: SECRET, role: 'admin' }, { name: 'admin', key: ADMIN_KEY, role: 'admin' }] },
    keyPath: 'deployment.admin.admin_key[1].key',
    line: (p: string) => lineWith(p, `key: ${ADMIN_KEY}`),
    why: /refusing to start: the Admin API listens on :: \(not loopback\) with the well-known default admin key/,
  },
  {
    name: 'the default key on a routable address',
    ip: '192.0.2.10',
    admin: { admin_key: [{ name: 'viewer', key: ADMIN_KEY, role: 'viewer' }] },
    keyPath: 'deployment.admin.admin_key[0].key',
    line: (p: string) => lineWith(p, `key: ${ADMIN_KEY}`),
    why: /refusing to start: the Admin API listens on 192\.0\.2\.10 \(not loopback\) with the well-known default admin key/,
  },
  {
    name: 'no key required on 0.0.0.0',
    ip: '0.0.0.0',
    admin: { admin_key_required: false, admin_key: [{ name: 'ops', key: SECRET, role: 'admin' }] },
    keyPath: 'deployment.admin.admin_key_required',
    line: (p: string) => lineWith(p, 'admin_key_required:'),
    why: /refusing to start: the Admin API listens on 0\.0\.0\.0 \(not loopback\) without requiring a key/,
  },
];

for (const c of refusals) {
  test(`sluice start refuses ${c.name}, before binding anything`, async (t: TestContext) => {
    t.plan(5);
    // Both the admin port and a stream listener are taken: a gateway that bound anything first would die of
    // EADDRINUSE instead of printing the refusal.
    const port = await holdPort(t);
    const prefix = makePrefix(t, {
      apisix: { stream_proxy: { tcp: [port] } },
      deployment: { admin: { ...c.admin, admin_listen: { ip: c.ip, port } } },
    });
    const r = await runSluice(['start', '-p', prefix], { cwd: prefix });
    t.assert.strictEqual(r.code, 1, `exit status; stderr:\n${r.stderr}`);
    const last = lastLine(r.stderr);
    t.assert.ok(last.startsWith(`${F}:${c.line(prefix)}: ${c.keyPath}: `), last);
    t.assert.match(last, c.why);
    t.assert.doesNotMatch(r.stderr, /listening|EADDRINUSE/);
    t.assert.strictEqual(existsSync(path.join(prefix, 'data')), false, 'the store was not opened');
  });
}

test('sluice start runs on loopback with the default key and exits 0 on SIGTERM', async (t: TestContext) => {
  t.plan(4);
  const prefix = makePrefix(t, {});
  const gw = await startTestChild(t, prefix);
  const res = await adminRequest(gw.adminUrl, 'GET', '/apisix/admin/upstreams');
  t.assert.strictEqual(res.status, 200, res.text);
  t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
  gw.kill('SIGTERM');
  t.assert.deepStrictEqual(await gw.exited, { code: 0, signal: null }, gw.stderr());
  t.assert.match(gw.stderr(), /"msg":"stopping"/);
});

test('sluice start accepts 0.0.0.0 with a key of its own', async (t: TestContext) => {
  t.plan(3);
  const prefix = makePrefix(t, {
    deployment: { admin: { admin_key: [{ name: 'ops', key: SECRET, role: 'admin' }], admin_listen: { ip: '0.0.0.0', port: 0 } } },
  });
  const gw = await startTestChild(t, prefix);
  const res = await adminRequest(gw.adminUrl, 'GET', '/apisix/admin/upstreams', undefined, { 'X-API-KEY': SECRET });
  t.assert.strictEqual(res.status, 200, res.text);
  const wrong = await adminRequest(gw.adminUrl, 'GET', '/apisix/admin/upstreams');
  t.assert.strictEqual(wrong.status, 401, 'the default key is not a key of this gateway');
  gw.kill('SIGTERM');
  t.assert.deepStrictEqual(await gw.exited, { code: 0, signal: null }, gw.stderr());
});

test('sluice start exits 1 on a bad config.yaml, naming file, line and key', async (t: TestContext) => {
  t.plan(3);
  const prefix = makePrefix(t, {}, `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 70000
`);
  const r = await runSluice(['start', '-p', prefix], { cwd: prefix });
  t.assert.strictEqual(r.code, 1);
  t.assert.strictEqual(lastLine(r.stderr), `${F}:5: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: port out of range (1-65535): 70000`);
  t.assert.strictEqual(existsSync(path.join(prefix, 'data')), false, 'the store was not opened');
});

test('sluice start exits 1 with the error as the last line when the admin port is taken', async (t: TestContext) => {
  t.plan(2);
  const port = await holdPort(t);
  const prefix = makePrefix(t, { deployment: { admin: { admin_listen: { ip: '127.0.0.1', port } } } });
  const r = await runSluice(['start', '-p', prefix], { cwd: prefix });
  t.assert.strictEqual(r.code, 1);
  t.assert.match(lastLine(r.stderr), new RegExp(`^sluice: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
});
