// The syslog sender on the wire: against a real rsyslogd (UDP and TCP; the raw line it received is compared with the
// record APISIX would have framed), against servers that fail in each way a syslog server can (refuses, never
// accepts, never reads, goes away and comes back), and, for TLS, against node:tls servers (rsyslog's TLS needs
// rsyslog-gnutls, not installed here) with certificates made for 127.0.0.1 by the test CA and by a foreign one.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { check } from '../../src/lib/jsonschema.ts';
import { encodeRfc5424 } from '../../src/lib/rfc5424.ts';
import { SyslogSender, UDP_MAX_PAYLOAD, type SyslogSenderConf, type SyslogSenderOptions } from '../../src/observe/syslog-sender.ts';
import { SYSLOG_SCHEMA } from '../../src/plugins/syslog-schema.ts';
import { testCerts, type Pem } from '../fixtures/certs.ts';
import { rsyslogMissing, startRsyslog } from '../fixtures/rsyslog.ts';
import { freePort, neverAccepts } from '../fixtures/servers.ts';

const NO_RSYSLOG = rsyslogMissing();

/** A plugin conf through SYSLOG_SCHEMA, defaults filled, as the plugin hands it to the sender. */
function conf(over: Record<string, unknown>): SyslogSenderConf {
  const c: Record<string, unknown> = { host: '127.0.0.1', ...over };
  const err = check(SYSLOG_SCHEMA, c);
  if (err !== undefined) throw new Error(err);
  return c as unknown as SyslogSenderConf;
}

function sender(t: TestContext, c: SyslogSenderConf, o: SyslogSenderOptions = {}): SyslogSender {
  const s = new SyslogSender(c, o);
  t.after(() => s.close());
  return s;
}

/** One record as the syslog plugin frames it; `pad` makes records of one size. */
function record(tag: string, seq: number, pad = 0): string {
  const msg = JSON.stringify({ tag, seq: String(seq).padStart(6, '0'), client_ip: '127.0.0.1', pad: 'x'.repeat(pad) });
  return encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: undefined, appName: 'apisix', procId: process.pid, msg });
}

const FRAME = /^<46>1 \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z - apisix \d+ - - \{.*\}$/;
/** What rsyslog's %rawmsg% shows of a record: the record without its trailing LF. */
const raw = (r: string): string => r.slice(0, -1);
const sorted = (a: readonly string[]): string[] => [...a].sort();
/** A frame with its timestamp blanked: records rebuilt for an expectation are made a few ms later than the sent ones. */
const untimed = (l: string): string => l.replace(/^(<\d+>1 )\S+/, '$1T');

/** Polls `cond` every 10 ms; throws after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const sock_type of ['udp', 'tcp'] as const) {
  test(`${sock_type}: every record arrives, each one message, byte for byte as APISIX frames it`, { skip: NO_RSYSLOG }, async (t: TestContext) => {
    t.plan(4);
    const rs = await startRsyslog(t, { [sock_type]: true });
    const port = sock_type === 'udp' ? rs.udpPort : rs.tcpPort;
    const s = sender(t, conf({ port, sock_type, batch_max_size: 7, inactive_timeout: 1 }));
    const recs = Array.from({ length: 40 }, (_, i) => record(sock_type, i));
    recs.push(encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: undefined, appName: 'apisix', procId: process.pid, msg: JSON.stringify({ tag: 'utf-8', v: 'é✓ 雪' }) }));
    for (const r of recs) s.push(r);
    const lines = await rs.waitFor(recs.length, 5000);
    t.assert.deepStrictEqual(sorted(lines), sorted(recs.map(raw)), 'the raw message rsyslog got is the record, without its LF');
    t.assert.ok(lines.every((l) => FRAME.test(l)), `framed <46>1 TIMESTAMP - apisix PID - - {json}: ${lines[0] ?? '(none)'}`);
    t.assert.ok(!lines.some((l) => l.includes('#012')), 'no message holds two records (rsyslog writes an inner LF as #012)');
    t.assert.deepStrictEqual(s.stats(), { sent: recs.length, dropped: 0, failed: 0, pendingBytes: 0 });
  });

  test(`${sock_type}: batches honour batch_max_size; the rest goes after inactive_timeout, not before`, { skip: NO_RSYSLOG }, async (t: TestContext) => {
    t.plan(4);
    const rs = await startRsyslog(t, { [sock_type]: true });
    const port = sock_type === 'udp' ? rs.udpPort : rs.tcpPort;
    const s = sender(t, conf({ port, sock_type, batch_max_size: 10, inactive_timeout: 2 }));
    const t0 = performance.now();
    for (let i = 0; i < 25; i++) s.push(record('batch', i));
    const first = await rs.waitFor(20, 1500);
    t.assert.strictEqual(first.length, 20, 'two full batches went at once; the third (5 records) waits');
    t.assert.deepStrictEqual(s.stats().sent, 20);
    const all = await rs.waitFor(25, 5000);
    const waited = performance.now() - t0;
    t.assert.strictEqual(all.length, 25);
    t.assert.ok(waited >= 1950 && waited < 4000, `the last 5 went on inactive_timeout (2 s): after ${Math.round(waited)} ms`);
  });
}

test('tcp: a large batch goes in flush_limit pieces, every record whole, on kept-alive connections', { skip: NO_RSYSLOG }, async (t: TestContext) => {
  t.plan(2);
  const rs = await startRsyslog(t, { tcp: true });
  const s = sender(t, conf({ port: rs.tcpPort, batch_max_size: 500, flush_limit: 1000, inactive_timeout: 1 }));
  const recs = Array.from({ length: 2000 }, (_, i) => record('bulk', i, i % 300));
  for (const r of recs) s.push(r);
  const lines = await rs.waitFor(recs.length, 10_000);
  t.assert.deepStrictEqual(sorted(lines), sorted(recs.map(raw)));
  t.assert.deepStrictEqual(s.stats(), { sent: 2000, dropped: 0, failed: 0, pendingBytes: 0 });
});

/** A TCP server that splits what it reads into LF-terminated records and counts its connections. */
async function lineServer(t: TestContext, onConn: (s: Socket) => void = () => {}): Promise<{ port: number; lines: string[]; conns: () => number; open: () => number }> {
  const lines: string[] = [];
  const socks = new Set<Socket>();
  let conns = 0;
  const srv = createServer((c) => {
    conns++;
    socks.add(c);
    c.on('close', () => socks.delete(c));
    c.on('error', () => { /* the sender may reset */ });
    let rest = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
    });
    onConn(c);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(async () => {
    for (const c of socks) c.destroy();
    srv.close();
    await once(srv, 'close');
  });
  return { port: (srv.address() as AddressInfo).port, lines, conns: () => conns, open: () => socks.size };
}

test('tcp: one connection is reused batch after batch; a burst opens at most pool_size', async (t: TestContext) => {
  t.plan(4);
  const srv = await lineServer(t);
  const s = sender(t, conf({ port: srv.port, batch_max_size: 1, pool_size: 5 }));
  for (let i = 0; i < 10; i++) {
    s.push(record('serial', i));
    await until(() => srv.lines.length === i + 1, 3000, `record ${i}`);
  }
  t.assert.strictEqual(srv.conns(), 1, 'ten batches, one after another, on one connection');
  let peak = 0;
  const watch = setInterval(() => { peak = Math.max(peak, srv.open()); }, 1);
  t.after(() => clearInterval(watch));
  for (let i = 0; i < 200; i++) s.push(record('burst', i));
  await until(() => srv.lines.length === 210, 5000, 'the burst');
  clearInterval(watch);
  t.assert.ok(srv.conns() <= 5 && peak <= 5, `at most pool_size (5) connections: ${srv.conns()} opened, ${peak} open at once`);
  t.assert.deepStrictEqual(sorted(srv.lines.slice(10).map(untimed)), sorted(Array.from({ length: 200 }, (_, i) => untimed(raw(record('burst', i))))));
  t.assert.deepStrictEqual(s.stats(), { sent: 210, dropped: 0, failed: 0, pendingBytes: 0 });
});

/** Percentile of sorted samples. */
const pct = (xs: readonly number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

interface Dead {
  readonly name: string;
  /** The port of a server that fails that way. */
  readonly start: (t: TestContext) => Promise<number>;
}

const DEAD: readonly Dead[] = [
  { name: 'nothing listening (refused)', start: () => freePort() },
  { name: 'never accepts (connect times out)', start: async (t) => (await neverAccepts(t, 1))[0] as number },
  {
    name: 'accepts and never reads',
    start: async (t) => (await lineServer(t, (c) => { c.pause(); })).port,
  },
];

for (const d of DEAD) {
  test(`dead server, ${d.name}: push() never waits, the queue stays within drop_limit, every record is accounted for`, async (t: TestContext) => {
    t.plan(5);
    const port = await d.start(t);
    const errors: string[] = [];
    const dropLimit = 64 * 1024;
    const s = new SyslogSender(conf({ port, timeout: 300, drop_limit: dropLimit, flush_limit: 4096, batch_max_size: 50, inactive_timeout: 1 }),
      { backoffMaxMs: 1000, closeTimeoutMs: 300, onError: (m) => errors.push(m) });
    t.after(() => s.close());
    const rec = record('dead', 0, 300);
    const size = Buffer.byteLength(rec);
    // a burst, no flush can start during it: exactly what fits under drop_limit is kept
    for (let i = 0; i < 1000; i++) s.push(rec);
    const fits = Math.floor(dropLimit / size);
    t.assert.strictEqual(s.stats().dropped, 1000 - fits, `${fits} records of ${size} bytes fit in drop_limit ${dropLimit}`);
    // then 1.5 s of steady pushing while the sender keeps failing. push() never waits because what is waiting is
    // bounded: checked after every 100 pushes. Its time per call is printed, not asserted (speed is proven by the
    // bench kit, not by a timed test that a busy machine can fail).
    const samples: number[] = [];
    let pushed = 1000;
    let maxPending = 0;
    const end = performance.now() + 1500;
    while (performance.now() < end) {
      for (let i = 0; i < 100; i++) {
        const a = performance.now();
        s.push(rec);
        samples.push(performance.now() - a);
      }
      pushed += 100;
      maxPending = Math.max(maxPending, s.stats().pendingBytes);
      await new Promise((r) => setTimeout(r, 2));
    }
    samples.sort((a, b) => a - b);
    t.diagnostic(`push() under "${d.name}": ${samples.length} pushes, p50 ${(pct(samples, 0.5) * 1000).toFixed(1)} µs, p99 ${(pct(samples, 0.99) * 1000).toFixed(1)} µs, max ${((samples.at(-1) ?? NaN) * 1000).toFixed(0)} µs; ${JSON.stringify(s.stats())}`);
    t.assert.ok(maxPending > 0 && maxPending <= dropLimit, `waiting bytes peaked at ${maxPending}, drop_limit ${dropLimit}`);
    const c0 = performance.now();
    await s.close();
    const closeMs = performance.now() - c0;
    // close() gives up at closeTimeoutMs (300) and abandons flushes twice that later: 900 ms by design, 3 s with room
    t.assert.ok(closeMs < 3000, `close() is bounded: ${Math.round(closeMs)} ms`);
    const st = s.stats();
    t.assert.strictEqual(st.sent + st.failed + st.dropped, pushed, `sent + failed + dropped = pushed: ${JSON.stringify(st)}, ${pushed}`);
    t.assert.ok(st.failed > 0 && errors.length > 0, `failures counted and reported: ${errors[0] ?? '(none)'}`);
  });
}

test('tcp: the server goes away and comes back on its port: failures are counted, then records flow again', { skip: NO_RSYSLOG }, async (t: TestContext) => {
  t.plan(5);
  const rs1 = await startRsyslog(t, { tcp: true });
  const port = rs1.tcpPort as number;
  const s = sender(t, conf({ port, timeout: 500, batch_max_size: 5, max_retry_count: 1, retry_delay: 0 }), { backoffMaxMs: 400 });
  const before = Array.from({ length: 5 }, (_, i) => record('before', i));
  for (const r of before) s.push(r);
  t.assert.deepStrictEqual(sorted(await rs1.waitFor(5, 3000)), sorted(before.map(raw)));
  await rs1.stop();
  // the first outage batch may still go out on the closing connection (counted sent, lost); the next ones fail
  for (let b = 0; b < 3; b++) {
    const done = s.stats().sent + s.stats().failed;
    for (let i = 0; i < 5; i++) s.push(record('outage', b * 5 + i));
    await until(() => s.stats().sent + s.stats().failed === done + 5, 5000, `outage batch ${b}`);
  }
  t.assert.ok(s.stats().failed >= 10, `outage batches failed: ${JSON.stringify(s.stats())}`);
  const rs2 = await startRsyslog(t, { tcp: true, tcpPort: port });
  const after = Array.from({ length: 5 }, (_, i) => record('after', i));
  const sentBefore = s.stats().sent;
  for (const r of after) s.push(r);
  const got = await rs2.waitFor(5, 5000);
  t.assert.deepStrictEqual(sorted(got), sorted(after.map(raw)), 'after the restart every record arrives');
  t.assert.strictEqual(s.stats().sent, sentBefore + 5);
  t.assert.strictEqual(s.stats().dropped, 0);
});

test('udp: the server goes away (ICMP refusals are reported) and comes back: records flow again', { skip: NO_RSYSLOG }, async (t: TestContext) => {
  t.plan(3);
  const rs1 = await startRsyslog(t, { udp: true });
  const port = rs1.udpPort as number;
  const errors: string[] = [];
  const s = sender(t, conf({ port, sock_type: 'udp', batch_max_size: 1 }), { onError: (m) => errors.push(m) });
  s.push(record('before', 0));
  t.assert.strictEqual((await rs1.waitFor(1, 3000)).length, 1);
  await rs1.stop();
  for (let i = 0; i < 20 && errors.length === 0; i++) {
    s.push(record('outage', i));
    await new Promise((r) => setTimeout(r, 20));
  }
  t.assert.ok(errors.some((e) => e.includes('ECONNREFUSED')), `refusal reported: ${errors[0] ?? '(none)'}`);
  const rs2 = await startRsyslog(t, { udp: true, udpPort: port });
  const after = Array.from({ length: 5 }, (_, i) => record('after', i));
  for (const r of after) s.push(r);
  t.assert.deepStrictEqual(sorted(await rs2.waitFor(5, 5000)), sorted(after.map(raw)));
});

test('close() sends what is still in the buffer at once, then refuses', { skip: NO_RSYSLOG }, async (t: TestContext) => {
  t.plan(3);
  const rs = await startRsyslog(t, { tcp: true });
  const s = new SyslogSender(conf({ port: rs.tcpPort, inactive_timeout: 60, buffer_duration: 600 }));
  const recs = Array.from({ length: 3 }, (_, i) => record('close', i));
  for (const r of recs) s.push(r);
  await s.close();
  t.assert.deepStrictEqual(sorted(await rs.waitFor(3, 3000)), sorted(recs.map(raw)));
  s.push(record('late', 0));
  t.assert.strictEqual(s.stats().dropped, 1);
  t.assert.strictEqual(s.stats().sent, 3);
});

test('udp: a record bigger than a datagram is dropped at push, the others go', { skip: NO_RSYSLOG }, async (t: TestContext) => {
  t.plan(2);
  const rs = await startRsyslog(t, { udp: true });
  const s = sender(t, conf({ port: rs.udpPort, sock_type: 'udp', batch_max_size: 1 }));
  s.push(record('big', 0, UDP_MAX_PAYLOAD));
  s.push(record('small', 1));
  t.assert.deepStrictEqual((await rs.waitFor(1, 3000)).map(untimed), [untimed(raw(record('small', 1)))]);
  t.assert.deepStrictEqual(s.stats(), { sent: 1, dropped: 1, failed: 0, pendingBytes: 0 });
});

test('confs APISIX accepts but cannot run are refused when the sender is built', (t: TestContext) => {
  t.plan(3);
  t.assert.throws(() => new SyslogSender(conf({ port: 514, flush_limit: 4096, drop_limit: 4096 })), /"flush_limit" should be < "drop_limit"/);
  t.assert.throws(() => new SyslogSender(conf({ port: 70000 })), /"port" out of range/);
  t.assert.throws(() => new SyslogSender(conf({ port: 514, sock_type: 'udp', tls: true })), /no TLS over UDP/);
});

/** A server certificate for IP 127.0.0.1 signed by `issuer` (made with openssl in a temp dir). */
function ipCert(t: TestContext, issuer: Pem): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-syslog-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }); };
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1']);
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-set_serial', '4242', '-days', '2', '-out', 'leaf.pem', '-extfile', 'ext']);
  return { cert: execFileSync('cat', [path.join(dir, 'leaf.pem')], { encoding: 'utf8' }), key: execFileSync('cat', [path.join(dir, 'leaf.key')], { encoding: 'utf8' }) };
}

/** A TLS server that splits what it reads into LF-terminated records. */
async function tlsLineServer(t: TestContext, pem: { cert: string; key: string }): Promise<{ port: number; lines: string[]; secured: () => number }> {
  const lines: string[] = [];
  let secured = 0;
  const socks = new Set<Socket>();
  const srv = createTlsServer({ cert: pem.cert, key: pem.key }, (c) => {
    secured++;
    let rest = '';
    c.setEncoding('utf8');
    c.on('error', () => { /* resets are part of the tests */ });
    c.on('data', (d: string) => {
      const parts = (rest + d).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
    });
  });
  srv.on('connection', (c: Socket) => { socks.add(c); c.on('close', () => socks.delete(c)); });
  srv.on('tlsClientError', () => { /* the sender refusing the certificate */ });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(async () => {
    for (const c of socks) c.destroy();
    srv.close();
    await once(srv, 'close');
  });
  return { port: (srv.address() as AddressInfo).port, lines, secured: () => secured };
}

test('tls: records go over TLS to a server whose certificate the CA signed for the host', async (t: TestContext) => {
  t.plan(2);
  const certs = testCerts();
  const srv = await tlsLineServer(t, ipCert(t, certs.ca));
  const s = sender(t, conf({ port: srv.port, tls: true, batch_max_size: 4, inactive_timeout: 1 }), { ca: certs.ca.cert });
  const recs = Array.from({ length: 10 }, (_, i) => record('tls', i));
  for (const r of recs) s.push(r);
  await until(() => srv.lines.length >= 10, 5000, 'ten records over TLS');
  t.assert.deepStrictEqual(sorted(srv.lines), sorted(recs.map(raw)));
  t.assert.deepStrictEqual(s.stats(), { sent: 10, dropped: 0, failed: 0, pendingBytes: 0 });
});

const TLS_REFUSED: readonly { name: string; pem: (t: TestContext) => { cert: string; key: string }; error: RegExp }[] = [
  { name: 'a certificate from a CA it does not trust', pem: (t) => ipCert(t, testCerts().foreignCa), error: /certificate/i },
  { name: 'a trusted certificate for another name (test.com, not 127.0.0.1)', pem: () => testCerts().server.exact, error: /IP: 127\.0\.0\.1 is not in the cert's list|does not match|altnames/i },
];

for (const c of TLS_REFUSED) {
  test(`tls: the server is verified: ${c.name} is refused and nothing is sent`, async (t: TestContext) => {
    t.plan(3);
    const srv = await tlsLineServer(t, c.pem(t));
    const errors: string[] = [];
    const s = sender(t, conf({ port: srv.port, tls: true, batch_max_size: 1 }), { ca: testCerts().ca.cert, onError: (m) => errors.push(m) });
    s.push(record('tls-refused', 0));
    await until(() => s.stats().failed === 1, 5000, 'the record to fail');
    t.assert.ok(errors.some((e) => c.error.test(e)), `the reason: ${errors[0] ?? '(none)'}`);
    t.assert.strictEqual(srv.lines.length, 0);
    t.assert.deepStrictEqual(s.stats(), { sent: 0, dropped: 0, failed: 1, pendingBytes: 0 });
  });
}
