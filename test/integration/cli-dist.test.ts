// The compiled build (`npm run build`, run by `npm ci` and `npm start`): bin/sluice runs dist/cli.js when it is there,
// and the gateway it starts works end to end from JavaScript alone — the data-plane worker is found as worker.js, the
// native addon and package.json at the same relative places as from src/. Built here into a copy of the layout, so
// the test neither depends on nor touches the repository's own dist/.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { adminRequest, makePrefix } from '../fixtures/gateway.ts';
import { startTestChild } from '../fixtures/child.ts';
import { echoServer, freePort, talk } from '../fixtures/servers.ts';
import { waitFor } from '../fixtures/upstream-helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('bin/sluice runs the compiled dist/ build: a route through it proxies, on the V8 settings the launcher sets', { timeout: 60_000 }, async (t: TestContext) => {
  const root = mkdtempSync(path.join(tmpdir(), 'sluice-dist-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const f of ['package.json', 'native', 'node_modules']) symlinkSync(path.join(ROOT, f), path.join(root, f));
  mkdirSync(path.join(root, 'bin'));
  copyFileSync(path.join(ROOT, 'bin', 'sluice'), path.join(root, 'bin', 'sluice')); // a copy: it finds its root from where it is
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist')]);

  const echo = await echoServer(t);
  const port = await freePort();
  const prefix = makePrefix(t, { apisix: { stream_proxy: { tcp: [`127.0.0.1:${port}`] } } });
  const gw = await startTestChild(t, prefix, { command: path.join(root, 'bin', 'sluice') });
  const argv = readFileSync(`/proc/${gw.pid}/cmdline`, 'utf8').split('\0');
  t.assert.ok(argv.includes(path.join(root, 'dist', 'cli.js')), `runs dist/cli.js: ${argv.join(' ')}`);
  t.assert.ok(argv.includes('--max-semi-space-size=1'), argv.join(' '));
  const put = await adminRequest(gw.adminUrl, 'PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } });
  t.assert.equal(put.status, 201);
  // the route reaches the worker a moment after the 201
  const through = await waitFor(async () => (await talk(port, { send: 'from dist' })).data.toString() === 'from dist', 5000);
  t.assert.ok(through.ok, 'a connection was proxied through the compiled gateway');
  gw.kill('SIGTERM');
  t.assert.deepStrictEqual(await gw.exited, { code: 0, signal: null });
});
