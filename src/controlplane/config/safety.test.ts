// safety.ts: which admin listen addresses count as loopback, and when `start` refuses (with file, line and key path).
import { test, type TestContext } from 'node:test';
import { parseConfig } from './load.ts';
import { checkStartSafety, isLoopback } from './safety.ts';

const loopback: { ip: string; want: boolean }[] = [
  { ip: '127.0.0.1', want: true },
  { ip: '127.255.0.9', want: true },
  { ip: '::1', want: true },
  { ip: '0:0:0:0:0:0:0:1', want: true },
  { ip: '::ffff:127.0.0.1', want: true },
  { ip: '::ffff:7f00:1', want: true },
  { ip: 'localhost', want: true },
  { ip: '0.0.0.0', want: false },
  { ip: '::', want: false },
  { ip: '128.0.0.1', want: false },
  { ip: '10.0.0.1', want: false },
  { ip: '::ffff:10.0.0.1', want: false },
  { ip: 'fe80::1', want: false },
  { ip: 'example.com', want: false },
];

for (const c of loopback) {
  test(`isLoopback(${c.ip}) is ${c.want}`, (t: TestContext) => {
    t.plan(1);
    t.assert.strictEqual(isLoopback(c.ip), c.want);
  });
}

const DEFAULT = 'edd1c9f034335f136f87ad84b625c8f1';

const starts: { name: string; yaml: string; want: RegExp | undefined }[] = [
  { name: 'defaults (loopback, default key)', yaml: '', want: undefined },
  {
    name: 'default key beyond loopback, key not written: the line of deployment.admin',
    yaml: 'deployment:\n  admin:\n    admin_listen: { ip: 0.0.0.0, port: 9180 }\n',
    want: /^c\.yaml:2: deployment\.admin\.admin_key\[0\]\.key: refusing to start: .*0\.0\.0\.0 \(not loopback\)/,
  },
  {
    name: 'default key beyond loopback, written: its own line',
    yaml: `deployment:
  admin:
    admin_key:
      - name: ops
        key: 0123456789abcdef0123456789abcdef
        role: admin
      - name: admin
        key: ${DEFAULT}
        role: viewer
    admin_listen: { ip: "::", port: 9180 }
`,
    want: /^c\.yaml:8: deployment\.admin\.admin_key\[1\]\.key: refusing to start: .*well-known default admin key/,
  },
  {
    name: 'no key required beyond loopback',
    yaml: `deployment:
  admin:
    admin_key_required: false
    admin_key: [{ name: ops, key: 0123456789abcdef0123456789abcdef, role: admin }]
    admin_listen: { ip: 10.0.0.1, port: 9180 }
`,
    want: /^c\.yaml:3: deployment\.admin\.admin_key_required: refusing to start: .*without requiring a key/,
  },
  {
    name: 'own key beyond loopback',
    yaml: 'deployment:\n  admin:\n    admin_key: [{ name: ops, key: 0123456789abcdef0123456789abcdef, role: admin }]\n    admin_listen: { ip: 0.0.0.0 }\n',
    want: undefined,
  },
  {
    name: 'admin disabled',
    yaml: 'deployment:\n  admin:\n    enable_admin: false\n    admin_listen: { ip: 0.0.0.0 }\n',
    want: undefined,
  },
  {
    name: 'no key required on loopback',
    yaml: 'deployment:\n  admin:\n    admin_key_required: false\n',
    want: undefined,
  },
];

for (const c of starts) {
  test(`checkStartSafety: ${c.name}`, (t: TestContext) => {
    t.plan(1);
    const why = checkStartSafety(parseConfig(c.yaml, 'c.yaml', '/tmp'));
    if (c.want === undefined) t.assert.strictEqual(why, undefined);
    else t.assert.match(why ?? '(started)', c.want);
  });
}
