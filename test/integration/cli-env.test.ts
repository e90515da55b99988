// Secrets out of config.yaml (issue 14): APISIX's `${{VAR}}` / `${{VAR:=default}}` substitution, through `sluice test`
// and `sluice start` as real child processes. A missing variable without a default fails the start, naming the
// variable, the file, the line and the key; nothing is opened then.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { adminRequest, makePrefix } from '../fixtures/gateway.ts';
import { lastLine, runSluice, startTestChild } from '../fixtures/child.ts';

const F = 'conf/config.yaml';
const SECRET = 'from-the-environment-0123456789abcdef';
const YAML = `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp: []
  enable_control: false
deployment:
  admin:
    admin_key:
      - name: ops
        key: \${{SLUICE_T_ADMIN_KEY}}
        role: admin
    admin_listen:
      ip: \${{SLUICE_T_ADMIN_IP:=127.0.0.1}}
      port: \${{SLUICE_T_ADMIN_PORT:=0}}
sluice:
  workers: \${{SLUICE_T_WORKERS:=1}}
`;

test('sluice test: ${{VAR}} resolved from the environment passes; a missing one fails naming the variable, line and key', async (t: TestContext) => {
  const prefix = makePrefix(t, {}, YAML);
  const ok = await runSluice(['test', '-c', F], { cwd: prefix, env: { SLUICE_T_ADMIN_KEY: SECRET } });
  t.assert.equal(ok.code, 0, ok.stderr);
  // a substituted number is a number: `workers: abc` from the environment is refused like the literal would be
  const notNumber = await runSluice(['test', '-c', F], { cwd: prefix, env: { SLUICE_T_ADMIN_KEY: SECRET, SLUICE_T_WORKERS: 'lots' } });
  t.assert.equal(notNumber.code, 1);
  t.assert.match(lastLine(notNumber.stderr), /^conf\/config\.yaml:16: sluice\.workers: must be /);
  const missing = await runSluice(['test', '-c', F], { cwd: prefix, env: { SLUICE_T_ADMIN_KEY: undefined } });
  t.assert.equal(missing.code, 1);
  t.assert.equal(lastLine(missing.stderr), `${F}:10: deployment.admin.admin_key[0].key: can't find environment variable SLUICE_T_ADMIN_KEY (set it, or give a default: \${{SLUICE_T_ADMIN_KEY:=value}})`);
});

test('sluice start: the admin key comes from the environment (the file holds only its name); missing → exit 1 before opening anything', async (t: TestContext) => {
  const prefix = makePrefix(t, {}, YAML);
  const gw = await startTestChild(t, prefix, { env: { SLUICE_T_ADMIN_KEY: SECRET } });
  const good = await adminRequest(gw.adminUrl, 'GET', '/apisix/admin/upstreams', undefined, { 'X-API-KEY': SECRET });
  t.assert.equal(good.status, 200, good.text);
  const literal = await adminRequest(gw.adminUrl, 'GET', '/apisix/admin/upstreams', undefined, { 'X-API-KEY': '${{SLUICE_T_ADMIN_KEY}}' });
  t.assert.equal(literal.status, 401, 'the reference itself is not a key');
  gw.kill('SIGTERM');
  t.assert.deepStrictEqual(await gw.exited, { code: 0, signal: null }, gw.stderr());

  const other = makePrefix(t, {}, YAML);
  const r = await runSluice(['start', '-p', other], { cwd: other, env: { SLUICE_T_ADMIN_KEY: undefined } });
  t.assert.equal(r.code, 1);
  t.assert.match(lastLine(r.stderr), /^conf\/config\.yaml:10: deployment\.admin\.admin_key\[0\]\.key: can't find environment variable SLUICE_T_ADMIN_KEY/);
  t.assert.equal(existsSync(path.join(other, 'data')), false, 'the store was not opened');
});
