// The embedded store on a disk that fills up (issue 14), for real: its data_dir is a small tmpfs mounted for this test
// (root only; skipped where mounting is not allowed). A write the disk refuses answers 503 with a clear error_msg and
// leaves nothing behind; reads and the data plane go on; once there is room, writes work again. (A read-only remount
// cannot be made while the database is open for writing, EBUSY; the store maps SQLite's READONLY and IOERR the same
// way as FULL, src/controlplane/store/embedded.ts.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startTestGateway } from '../fixtures/gateway.ts';
import { echoServer, talk } from '../fixtures/servers.ts';

const mount = (args: readonly string[]): boolean => {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch {
    return false;
  }
};

function smallDisk(t: TestContext): string | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-disk-'));
  if (!mount(['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir])) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    try { execFileSync('umount', ['-l', dir]); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fills the file system at `dir` with one file until it has no room left; returns the file. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < 1024; i++) {
    try {
      writeFileSync(file, block, { flag: 'a' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
      throw err;
    }
  }
  // the last, partial block: byte by byte is too slow, so halve until nothing fits
  for (let n = 32 * 1024; n >= 1; n = Math.floor(n / 2)) {
    try { writeFileSync(file, Buffer.alloc(n), { flag: 'a' }); } catch { /* full at this size */ }
  }
  return file;
}

test('embedded store on a full disk: writes answer 503 and write nothing; reads and traffic go on; writes resume once there is room', { timeout: 60_000 }, async (t: TestContext) => {
  const dir = smallDisk(t);
  if (dir === undefined) {
    t.skip('mounting a tmpfs is not allowed here (not root)');
    return;
  }
  const echo = await echoServer(t);
  const g = await startTestGateway(t, { sluice: { data_dir: path.join(dir, 'data') } }, { listeners: [{}] });
  const route = { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } };
  t.assert.equal((await g.admin('PUT', '/apisix/admin/stream_routes/1', route)).status, 201);
  const rev = async (): Promise<unknown> => (await g.admin('GET', '/apisix/admin/stream_routes')).json;
  const before = await rev();

  const filler = fill(dir);
  const big = { nodes: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`127.0.0.1:${10_000 + i}`, 1])) };
  const put = await g.admin('PUT', '/apisix/admin/upstreams/u2', big);
  t.assert.equal(put.status, 503, put.text);
  t.assert.match((put.json as { error_msg: string }).error_msg, /^the embedded store cannot write: the disk is full \(.*sluice\.db\); nothing was written$/);
  const post = await g.admin('POST', '/apisix/admin/upstreams', big);
  t.assert.equal(post.status, 503, post.text);
  // nothing of the refused writes, the rest as it was; the data plane still proxies
  t.assert.equal((await g.admin('GET', '/apisix/admin/upstreams/u2')).status, 404);
  t.assert.deepStrictEqual(await rev(), before);
  t.assert.equal((await talk(g.listenerPort(), { send: 'while full' })).data.toString(), 'while full');

  unlinkSync(filler);
  t.assert.equal((await g.admin('PUT', '/apisix/admin/upstreams/u2', big)).status, 201);
  t.assert.equal((await g.admin('GET', '/apisix/admin/upstreams/u2')).status, 200);
});
