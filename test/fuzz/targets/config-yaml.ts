// Fuzzes the config.yaml loader, parseConfig (src/controlplane/config/load.ts: YAML, ${{VAR}} substitution, the
// JSON Schema with defaults, listener entries, admin keys, real_ip_from). Inputs: configs built from the real keys
// (src/controlplane/config/schema.ts) with plausible, boundary and wrong values and `${{VAR}}` / `${{VAR:=default}}`
// references (read from a fixed environment), structurally mutated, written with the `yaml` package in varied
// styles; then text mutations of those, random text, and adversarial YAML: alias bombs ("billion laughs") and deep
// nesting. Checked: the only throw is a ConfigError whose message is `conf/config.yaml:<line>: <key path>: <problem>`
// with a line inside the file and a non-empty problem; a loaded config is plain data (no object got a prototype
// from a `__proto__` key), its warnings name the file and a line, and its listeners have ports in 1-65535; all
// within the bound, however many aliases the text has.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../../src/controlplane/config/load.ts';
import { mutatedText, type FuzzTarget } from '../harness.ts';
import { pick, prng } from '../prng.ts';
import { arr, c, mutate, obj, type Gen } from './admin-json.ts';

const FILE = 'conf/config.yaml';
const ENV: NodeJS.ProcessEnv = { PORT: '9100', HOST: '127.0.0.1', KEY: 'a-secret-admin-key', EMPTY: '', WORKERS: '4', YES: 'true', HEX: '0x10' };
const REFS = ['${{PORT}}', '${{HOST}}:${{PORT}}', '${{NOPE:=9200}}', '${{WORKERS}}', '${{YES}}', '${{KEY}}', '${{ EMPTY }}', '${{HEX}}',
  '${{NOPE:= spaced default }}', 'x-${{PORT}}${{PORT}}', '${{NOPE}}', '${{A-B}}', '${{}}', '${{PORT'];

const bool = c([true, false], ['yes', 1]);
const ip = c(['127.0.0.1', '0.0.0.0', '::1'], ['', 1]);
const ipPort = obj({ ip, port: c([0, 9180, 9091, 65535], [-1, 65536, '9180']) });
const entry = c([9100, 9101, '127.0.0.1:9102', '[::1]:9103', '2000-2003', '0.0.0.0:3000-3001', ' 9104 '],
  [0, 70000, 'x', '1.2.3.4', '9000-8000', '1-5000', '::1:80', '[::1]', 9100.5, null]);
const tcpEntry: Gen = (r, junk) => (r() < 0.3 ? obj({
  addr: entry, tls: bool, proxy_protocol: bool, proxy_protocol_to_upstream: bool,
  proxy_protocol_to_upstream_version: c([1, 2], [3, '2']), bogus: c([1]),
}, ['addr'], 0.3) : entry)(r, junk);
const adminKey = obj({ name: c(['admin', 'viewer'], ['']), key: c(['edd1c9f034335f136f87ad84b625c8f1', 'k2'], ['']), role: c(['admin', 'viewer'], ['root']) },
  ['name', 'key', 'role'], 0);

const config = obj({
  apisix: obj({
    proxy_mode: c(['stream', 'http&stream', 'http'], ['tcp']),
    stream_proxy: obj({ tcp: arr(tcpEntry, 4), udp: arr(entry, 3) }, [], 0.7),
    ssl: obj({ fallback_sni: c(['a.example.com', '']), ssl_trusted_certificate: c(['conf/ca.pem']) }),
    proxy_protocol: obj({ enable_tcp_pp: bool, enable_tcp_pp_to_upstream: bool }),
    data_encryption: obj({ enable_encrypt_fields: bool, keyring: arr(c(['qeddd145sfvddff3', 'edd1c9f0985e76a2'], ['short'])) }),
    enable_control: bool, control: ipPort, dns_resolver: arr(c(['1.1.1.1', '[::1]:53'], [''])),
    node_listen: c([9080, [9080, 9081]]), enable_admin: bool, router: c([{ http: 'radixtree_uri' }]), bogus_key: c([1]),
  }, [], 0.4),
  deployment: obj({
    role: c(['traditional', 'data_plane'], ['control_plane']),
    role_traditional: obj({ config_provider: c(['embedded', 'etcd'], ['yaml']) }),
    role_data_plane: obj({ config_provider: c(['yaml'], ['etcd']) }),
    etcd: obj({
      host: arr(c(['http://127.0.0.1:2379', 'https://etcd:2379'], ['etcd:2379'])), prefix: c(['/apisix'], ['apisix']), timeout: c([30, 0.5], [0]),
      user: c(['root']), password: c(['pw']), tls: obj({ cert: c(['c.pem']), key: c(['k.pem']), verify: bool, sni: c(['etcd']) }), startup_retry: c([2]),
    }),
    admin: obj({
      enable_admin: bool, admin_key_required: bool, admin_key: arr(adminKey, 3), allow_admin: arr(c(['127.0.0.0/24', '::1/128'], [''])),
      admin_listen: ipPort, admin_api_version: c(['v3'], ['v2']), enable_admin_cors: bool,
    }),
  }),
  stream_plugins: arr(c(['ip-restriction', 'limit-conn', 'mqtt-proxy', 'syslog', 'traffic-split', 'prometheus'], ['']), 4),
  plugins: arr(c(['limit-count', 'prometheus'])),
  plugin_attr: obj({ prometheus: obj({ export_addr: ipPort, export_uri: c(['/apisix/prometheus/metrics'], ['metrics']), metric_prefix: c(['apisix_'], ['9x']), enable_export_server: bool, refresh_interval: c([0, 15], [-1]) }) }),
  nginx_config: obj({
    stream: obj({
      enable_access_log: bool, access_log: c(['logs/access_stream.log'], ['']), access_log_format: c(['$remote_addr $status', '${route_id} $bytes_sent'], ['']),
      access_log_format_escape: c(['default', 'json'], ['xml']), real_ip_from: arr(c(['10.0.0.0/8', '127.0.0.1', '::/0'], ['10.0.0.0/33', 'x'])), lua_shared_dict: c([{ a: '1m' }]),
    }),
    worker_processes: c(['auto']), error_log_level: c(['warn']), http: c([{ keepalive_timeout: '60s' }]),
  }),
  sluice: obj({
    workers: c(['auto', 1, 4, 64], [0, 65, '4']), data_dir: c(['data'], ['']), shutdown_timeout: c([10, 0], [-1]), tls_handshake_timeout: c([5], [0]),
    max_connections: c([100000, 1], [0]), udp_session_timeout: c([600], [0]), udp_max_sessions: c([65536], [0]), native_relay: c(['auto', 'off'], ['on']),
  }),
}, [], 0.3);

/** Some values become `${{VAR}}` references (a whole scalar, or part of a string). */
function envify(r: () => number, x: unknown): void {
  if (x === null || typeof x !== 'object') return;
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (r() < 0.06) o[k] = pick(r, REFS);
    else envify(r, o[k]);
  }
}

const STYLES: readonly object[] = [{}, { indent: 4 }, { flowLevel: 2 }, { defaultStringType: 'QUOTE_DOUBLE' }, { collectionStyle: 'flow' }, { lineWidth: 20 }];

const built = fc.tuple(fc.integer(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 })).map(([seed, junk]) => {
  const r = prng(seed);
  let conf = config(r, junk);
  if (r() < 0.4) envify(r, conf);
  if (r() < 0.3) conf = mutate(r, conf, junk, 20);
  const head = r() < 0.2 ? '# sluice config\n---\n' : '';
  return head + stringify(conf, pick(r, STYLES));
});

/** Aliases that would expand to 9^n values, nested flow collections, a long key chain. */
const adversarial = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 2, max: 1200 }), fc.constantFrom(0, 1, 2)).map(([n, depth, kind]) => {
  if (kind === 0) {
    const lines = ['apisix:', '  node_listen:', '    a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= n; i++) lines.push(`    a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
    return `${lines.join('\n')}\nsluice:\n  data_dir: *a${n}\n`;
  }
  if (kind === 1) return `apisix:\n  node_listen: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
  return `nginx_config:\n${Array.from({ length: Math.min(depth, 400) }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`;
});

const arbitrary = fc.oneof(
  { weight: 12, arbitrary: built },
  { weight: 12, arbitrary: mutatedText(built) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
  { weight: 1, arbitrary: adversarial },
);

/** The prototypes a loaded value may have: plain data only. */
function plain(x: unknown): boolean {
  if (x === null || typeof x !== 'object') return true;
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  return Object.values(x).every(plain);
}

const LINE = /^conf\/config\.yaml:(\d+): /;

export const target: FuzzTarget<string> = {
  name: 'config-yaml',
  arbitrary,
  show: (text) => JSON.stringify(text),
  boundMs: 100, // a flow collection nested 1,200 deep takes 20-35 ms to parse warm, more before the JIT has warmed
  mustReach: ['ok', 'rejected'],
  check(text) {
    const lines = text.split('\n').length;
    try {
      const loaded = parseConfig(text, FILE, '/tmp/sluice-fuzz', ENV);
      if (!plain(loaded.config)) return { fail: 'the loaded config is not plain data (a `__proto__` key became a prototype)' };
      const bad = loaded.warnings.find((w) => !LINE.test(w));
      if (bad !== undefined) return { fail: `warning without file and line: ${bad}` };
      const port = loaded.listeners.find((l) => !Number.isInteger(l.port) || l.port < 1 || l.port > 65535);
      if (port !== undefined) return { fail: `listener with port ${port.port}` };
      return { kind: 'ok' };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const line = Number(LINE.exec(err.message)?.[1] ?? NaN);
      if (!(line >= 1 && line <= lines)) return { fail: `line ${line} is not in the file (${lines} lines): ${err.message}` };
      if (err.problem.trim() === '') return { fail: `no problem stated: ${err.message}` };
      return { kind: 'rejected' };
    }
  },
};
