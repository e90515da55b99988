// `sluice test -c FILE` and `sluice version` as a user runs them (CONTRACT §1, §2): a real child process, its exit
// status, stdout, and the last stderr line `FILE:LINE: key.path: problem` with the line of the offending key.
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makePrefix } from '../fixtures/gateway.ts';
import { lastLine, runSluice } from '../fixtures/child.ts';

const SHIPPED = fileURLToPath(new URL('../../conf/config.yaml', import.meta.url));
const F = 'conf/config.yaml';

/** Writes `yaml` as <prefix>/conf/config.yaml and runs `sluice test -c conf/config.yaml` in the prefix. */
async function check(t: TestContext, yaml: string) {
  const prefix = makePrefix(t, {}, yaml);
  return runSluice(['test', '-c', F], { cwd: prefix });
}

interface Bad { name: string; yaml: string; want: string | RegExp }

const bad: Bad[] = [
  {
    name: 'tcp port out of range (the CONTRACT example)',
    yaml: `# listeners
apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - 70000
`,
    want: `${F}:7: apisix.stream_proxy.tcp[1]: invalid stream_proxy.tcp entry: port out of range (1-65535): 70000`,
  },
  {
    name: 'tcp port range start > end',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - "2005-2000"
`,
    want: `${F}:5: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: invalid port range (start > end): 2005-2000`,
  },
  {
    name: 'tcp ip:range start > end names the whole entry',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - "127.0.0.1:2005-2000"
`,
    want: `${F}:6: apisix.stream_proxy.tcp[1]: invalid stream_proxy.tcp entry: invalid port range (start > end): 127.0.0.1:2005-2000`,
  },
  {
    name: 'tcp missing port after the address',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - "127.0.0.1:"
`,
    want: `${F}:5: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: missing port: 127.0.0.1:`,
  },
  {
    name: 'udp missing port after an IPv6 address',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp: [9100]
    udp:
      - 9200
      - "[::1]"
`,
    want: `${F}:7: apisix.stream_proxy.udp[1]: invalid stream_proxy.udp entry: missing port: [::1]`,
  },
  {
    name: 'tcp port that is not a number',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - abc
`,
    want: `${F}:5: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: invalid port format: abc`,
  },
  {
    name: 'tcp port of type boolean',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - true
`,
    want: `${F}:6: apisix.stream_proxy.tcp[1]: invalid stream_proxy.tcp entry: invalid port value type: boolean`,
  },
  {
    name: 'tcp object form: a bad addr is reported on the addr line',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - tls: true
        addr: false
`,
    want: `${F}:6: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: invalid port value type: boolean`,
  },
  {
    name: 'tcp object form: an unknown key is reported on its line',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - addr: 9100
        proxy_protocl: true
`,
    want: `${F}:6: apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry: unknown key: proxy_protocl`,
  },
  {
    name: 'udp takes no object form',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    udp:
      - 9200
      - { addr: 9201 }
`,
    want: `${F}:6: apisix.stream_proxy.udp[1]: invalid stream_proxy.udp entry: invalid port value type: table`,
  },
  {
    name: 'the same listener twice',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - "9100"
`,
    want: `${F}:6: apisix.stream_proxy.tcp[1]: invalid stream_proxy.tcp entry: duplicate listener *:9100 (also at ${F}:5)`,
  },
  {
    name: 'tcp that is not a list',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp: 9100
`,
    want: `${F}:4: apisix.stream_proxy.tcp: expected array`,
  },
  {
    name: 'unknown top-level key',
    yaml: `apisix:
  proxy_mode: stream

stream_plugin:
  - limit-conn
`,
    want: `${F}:4: stream_plugin: unknown key`,
  },
  {
    name: 'unknown nested key',
    yaml: `deployment:
  admin:
    admin_listen:
      ip: 127.0.0.1
      prot: 9180
`,
    want: `${F}:5: deployment.admin.admin_listen.prot: unknown key`,
  },
  {
    name: 'unknown key inside a list entry',
    yaml: `deployment:
  admin:
    admin_key:
      - name: admin
        key: 0123456789abcdef0123456789abcdef
        role: admin
      - name: viewer
        key: fedcba9876543210fedcba9876543210
        role: viewer
        expires: never
`,
    want: `${F}:10: deployment.admin.admin_key[1].expires: unknown key`,
  },
  {
    name: 'unknown key under sluice',
    yaml: `sluice:
  workers: 2
  worker: 2
`,
    want: `${F}:3: sluice.worker: unknown key`,
  },
  {
    name: 'proxy_mode outside its enum',
    yaml: `apisix:
  proxy_mode: tcp
`,
    want: `${F}:2: apisix.proxy_mode: must be one of: http, stream, http&stream`,
  },
  {
    name: 'admin key role outside its enum',
    yaml: `deployment:
  admin:
    admin_key:
      - name: admin
        key: 0123456789abcdef0123456789abcdef
        role: root
`,
    want: `${F}:6: deployment.admin.admin_key[0].role: must be one of: admin, viewer`,
  },
  {
    name: 'a list entry missing a required key is reported on the entry line',
    yaml: `deployment:
  admin:
    admin_key:
      - name: admin
        key: 0123456789abcdef0123456789abcdef
`,
    want: `${F}:4: deployment.admin.admin_key[0]: missing required key "role"`,
  },
  {
    name: 'a string where a number goes',
    yaml: `sluice:
  workers: 1
  shutdown_timeout: "10"
`,
    want: `${F}:3: sluice.shutdown_timeout: expected number`,
  },
  {
    name: 'workers names both allowed forms',
    yaml: `sluice:
  workers: many
`,
    want: `${F}:2: sluice.workers: must be an integer from 1 to 64 or "auto"`,
  },
  {
    name: 'a mapping where a boolean goes, in nginx_config.stream',
    yaml: `nginx_config:
  stream:
    enable_access_log:
      on: true
`,
    want: `${F}:3: nginx_config.stream.enable_access_log: expected boolean`,
  },
  {
    name: 'the same admin key twice',
    yaml: `deployment:
  admin:
    admin_key:
      - { name: a, key: 0123456789abcdef0123456789abcdef, role: admin }
      - { name: b, key: 0123456789abcdef0123456789abcdef, role: viewer }
`,
    want: `${F}:5: deployment.admin.admin_key[1].key: duplicate admin key`,
  },
  {
    name: 'invalid YAML: unclosed flow sequence',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp: [9100, 9101
sluice:
  workers: 1
`,
    want: new RegExp(`^${F}:5: \\(top level\\): invalid YAML: \\S`),
  },
  {
    name: 'invalid YAML: a tab used for indentation',
    yaml: `apisix:
  proxy_mode: stream
sluice:
\tworkers: 1
`,
    want: new RegExp(`^${F}:4: \\(top level\\): invalid YAML: Tabs are not allowed as indentation`),
  },
  {
    name: 'invalid YAML: a key given twice',
    yaml: `apisix:
  proxy_mode: stream
  enable_control: true
  proxy_mode: http
`,
    want: new RegExp(`^${F}:4: \\(top level\\): invalid YAML: Map keys must be unique`),
  },
  {
    name: 'a list at the top level',
    yaml: `- apisix
`,
    want: `${F}:1: (top level): expected a mapping at the top level`,
  },
];

for (const c of bad) {
  test(`sluice test rejects: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const r = await check(t, c.yaml);
    t.assert.strictEqual(r.code, 1, `exit status; stderr:\n${r.stderr}`);
    t.assert.strictEqual(r.stdout, '');
    if (typeof c.want === 'string') t.assert.strictEqual(lastLine(r.stderr), c.want);
    else t.assert.match(lastLine(r.stderr), c.want);
  });
}

const good = [
  {
    name: 'every listener form of CONTRACT §2',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - "127.0.0.1:9101"
      - "[::1]:9101"
      - "2000-2005"
      - "127.0.0.1:2010-2015"
      - { addr: 9102, tls: true }
      - addr: "127.0.0.1:9103"
        tls: true
        proxy_protocol: true
        proxy_protocol_to_upstream: true
        proxy_protocol_to_upstream_version: 2
    udp:
      - 9200
      - "127.0.0.1:9201"
      - "[::1]:9202"
      - "9210-9212"
`,
  },
  {
    // The sample of CONTRACT §2 as written there, with a real keyring entry in place of "<16+ chars>".
    name: 'the full sample of CONTRACT §2',
    yaml: `apisix:
  proxy_mode: stream
  stream_proxy:
    tcp:
      - 9100
      - "127.0.0.1:9101"
      - { addr: 9102, tls: true }
    udp:
      - 9200
  ssl: { fallback_sni: "" }
  proxy_protocol: { enable_tcp_pp: false, enable_tcp_pp_to_upstream: false }
  data_encryption: { enable_encrypt_fields: true, keyring: ["0123456789abcdef"] }
  enable_control: true
  control: { ip: 127.0.0.1, port: 9090 }
  dns_resolver: []
deployment:
  role: traditional
  role_traditional: { config_provider: embedded }
  role_data_plane: { config_provider: yaml }
  etcd: { host: ["http://127.0.0.1:2379"], prefix: /apisix, timeout: 30 }
  admin:
    admin_key_required: true
    admin_key: [{ name: admin, key: edd1c9f034335f136f87ad84b625c8f1, role: admin }]
    allow_admin: [127.0.0.0/24, "::1/128"]
    admin_listen: { ip: 127.0.0.1, port: 9180 }
stream_plugins: [ip-restriction, limit-conn, mqtt-proxy, syslog, traffic-split, prometheus]
plugin_attr:
  prometheus: { export_addr: { ip: 127.0.0.1, port: 9091 } }
nginx_config:
  stream:
    enable_access_log: false
    access_log: logs/access_stream.log
    access_log_format: "$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time"
    access_log_format_escape: default
    real_ip_from: []
sluice:
  workers: auto
  data_dir: data
  shutdown_timeout: 10
  tls_handshake_timeout: 5
  max_connections: 100000
  udp_session_timeout: 600
  udp_max_sessions: 65536
`,
  },
  { name: 'an empty file (every default)', yaml: '' },
];

for (const c of good) {
  test(`sluice test accepts: ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const r = await check(t, c.yaml);
    t.assert.strictEqual(r.code, 0, `exit status; stderr:\n${r.stderr}`);
    t.assert.strictEqual(r.stdout, 'configuration is ok\n');
    t.assert.strictEqual(r.stderr, '');
  });
}

test('sluice test passes the shipped conf/config.yaml', async (t: TestContext) => {
  t.plan(2);
  const r = await runSluice(['test', '-c', SHIPPED]);
  t.assert.strictEqual(r.code, 0, `exit status; stderr:\n${r.stderr}`);
  t.assert.strictEqual(r.stdout, 'configuration is ok\n');
});

test('sluice test only warns about nginx_config keys it does not support', async (t: TestContext) => {
  t.plan(3);
  const r = await check(t, `# APISIX's nginx_config carries many nginx directives Sluice has no use for
nginx_config:
  worker_processes: auto
  stream:
    enable_access_log: true
    lua_shared_dict:
      etcd-cluster-health-check-stream: 10m
`);
  t.assert.strictEqual(r.code, 0, `exit status; stderr:\n${r.stderr}`);
  t.assert.strictEqual(r.stdout, 'configuration is ok\n');
  t.assert.deepStrictEqual(r.stderr.split('\n').filter((l) => l !== ''), [
    `warning: ${F}:3: nginx_config.worker_processes: not supported by Sluice, ignored`,
    `warning: ${F}:6: nginx_config.stream.lua_shared_dict: not supported by Sluice, ignored`,
  ]);
});

test('sluice test passes a file start would refuse, with a warning naming the key', async (t: TestContext) => {
  t.plan(3);
  const r = await check(t, `deployment:
  admin:
    admin_key:
      - name: admin
        key: edd1c9f034335f136f87ad84b625c8f1
        role: admin
    admin_listen:
      ip: 0.0.0.0
`);
  t.assert.strictEqual(r.code, 0, `exit status; stderr:\n${r.stderr}`);
  t.assert.strictEqual(r.stdout, 'configuration is ok\n');
  t.assert.match(r.stderr, new RegExp(`^warning: ${F}:5: deployment\\.admin\\.admin_key\\[0\\]\\.key: refusing to start: .*not loopback`));
});

test('sluice test names a file that cannot be read', async (t: TestContext) => {
  t.plan(3);
  const prefix = makePrefix(t, {});
  const r = await runSluice(['test', '-c', 'conf/missing.yaml'], { cwd: prefix });
  t.assert.strictEqual(r.code, 1);
  t.assert.strictEqual(r.stdout, '');
  t.assert.match(lastLine(r.stderr), /^conf\/missing\.yaml:\d+: .*ENOENT/);
});

test('sluice version prints the package version', async (t: TestContext) => {
  t.plan(3);
  const r = await runSluice(['version']);
  t.assert.strictEqual(r.code, 0);
  t.assert.strictEqual(r.stdout, 'sluice 0.1.0\n');
  t.assert.strictEqual(r.stderr, '');
});

const usageErrors = [
  { name: 'an unknown command', args: ['frobnicate'], last: 'sluice: unknown command "frobnicate"' },
  { name: 'no command', args: [], last: undefined },
  { name: 'an unknown option', args: ['test', '--bogus'], last: /^sluice: .*--bogus/ },
];

for (const c of usageErrors) {
  test(`sluice exits 1 on ${c.name}`, async (t: TestContext) => {
    t.plan(3);
    const r = await runSluice(c.args);
    t.assert.strictEqual(r.code, 1);
    t.assert.strictEqual(r.stdout, '');
    if (c.last === undefined) t.assert.match(r.stderr, /^usage: sluice <command>/);
    else if (typeof c.last === 'string') t.assert.strictEqual(lastLine(r.stderr), c.last);
    else t.assert.match(lastLine(r.stderr), c.last);
  });
}
