// RFC 5424 framing as APISIX's rfc5424.encode writes it (apisix/utils/rfc5424.lua, log_util.get_rfc3339_zulu_timestamp).
import { test, type TestContext } from 'node:test';
import { encodeRfc5424, rfc3339Zulu, type Facility, type Severity } from './rfc5424.ts';

const AT = new Date(Date.UTC(2026, 2, 2, 0, 14, 19, 123));

test('the syslog plugin\'s frame: <46>1, UTC with milliseconds and Z, `-` for a missing host, apisix, pid, - -, msg, LF', (t: TestContext) => {
  t.plan(2);
  const line = encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: undefined, appName: 'apisix', procId: 4242, msg: '{"client_ip":"127.0.0.1"}', time: AT });
  t.assert.strictEqual(line, '<46>1 2026-03-02T00:14:19.123Z - apisix 4242 - - {"client_ip":"127.0.0.1"}\n');
  const named = encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: 'gw1', appName: undefined, procId: 7, msg: 'x', time: AT });
  t.assert.strictEqual(named, '<46>1 2026-03-02T00:14:19.123Z gw1 - 7 - - x\n');
});

test('timestamp: %Y-%m-%dT%T. then the milliseconds floored and zero-padded to three digits, then Z', (t: TestContext) => {
  const cases: [Date, string][] = [
    [new Date(Date.UTC(2026, 0, 5, 3, 4, 5, 0)), '2026-01-05T03:04:05.000Z'],
    [new Date(Date.UTC(2026, 0, 5, 3, 4, 5, 7)), '2026-01-05T03:04:05.007Z'],
    [new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 45)), '2026-12-31T23:59:59.045Z'],
    [new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999)), '2026-12-31T23:59:59.999Z'],
  ];
  t.plan(cases.length + 1);
  for (const [d, want] of cases) t.assert.strictEqual(rfc3339Zulu(d), want);
  const now = encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: undefined, appName: 'apisix', procId: 1, msg: 'm' });
  t.assert.match(now, /^<46>1 \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z - apisix 1 - - m\n$/, 'time defaults to now');
});

test('PRI = facility * 8 + severity, with APISIX\'s names (its EMEGR spelling too)', (t: TestContext) => {
  const cases: [Facility, Severity, number][] = [
    ['KERN', 'EMERG', 0], ['KERN', 'EMEGR', 0], ['USER', 'NOTICE', 13], ['SYSLOG', 'INFO', 46], ['DAEMON', 'ERR', 27],
    ['AUTHPRIV', 'WARNING', 84], ['FTP', 'DEBUG', 95], ['LOCAL0', 'ALERT', 129], ['LOCAL7', 'DEBUG', 191], ['CRON', 'CRIT', 74],
  ];
  t.plan(cases.length);
  for (const [f, s, pri] of cases) {
    const line = encodeRfc5424({ facility: f, severity: s, hostname: 'h', appName: 'a', procId: 1, msg: 'm', time: AT });
    t.assert.ok(line.startsWith(`<${pri}>1 `), `${f}/${s}: ${line}`);
  }
});

test('as Lua writes it: only a missing host is `-` (an empty one stays empty), the pid is %d', (t: TestContext) => {
  t.plan(2);
  t.assert.strictEqual(encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: '', appName: 'apisix', procId: 1, msg: 'm', time: AT }),
    '<46>1 2026-03-02T00:14:19.123Z  apisix 1 - - m\n');
  t.assert.strictEqual(encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: 'h', appName: 'apisix', procId: 12.9, msg: 'm', time: AT }),
    '<46>1 2026-03-02T00:14:19.123Z h apisix 12 - - m\n');
});
