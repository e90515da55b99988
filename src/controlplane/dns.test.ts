// Domain node resolution (issue 5): with `apisix.dns_resolver` set, the hosts file first, then those servers (here a
// tiny DNS server on loopback UDP that answers from a table and counts queries), cached for the record's TTL, a
// failure cached NEGATIVE_TTL_S; a change of answer or of resolvability is reported through onChange and logged
// once, never on every refresh. Cache time comes from an injected clock; the 1 s refresh timer is mocked.
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { Logger } from '../observe/log.ts';
import { DEFAULT_TTL_S, DnsCache, NEGATIVE_TTL_S } from './dns.ts';

/** name → [ip, ttl] (A records); a missing name gets NXDOMAIN. Counts the A queries for each name. */
interface FakeDns {
  readonly server: string;
  readonly records: Map<string, [string, number]>;
  queries(name: string): number;
}

async function fakeDns(t: TestContext): Promise<FakeDns> {
  const records = new Map<string, [string, number]>();
  const seen = new Map<string, number>();
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    // header (12 bytes), then one question: labels, type, class
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off] as number;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
      off += len + 1;
    }
    const qEnd = off + 5;
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    if (qtype === 1) seen.set(name, (seen.get(name) ?? 0) + 1);
    const rec = records.get(name);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(rec === undefined ? 0x8183 : 0x8180, 2); // response, RD, RA; NXDOMAIN or NOERROR
    header.writeUInt16BE(1, 4);
    const answer = rec !== undefined && qtype === 1;
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, qEnd)];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(rec[1], 6);
      rr.writeUInt16BE(4, 10);
      rec[0].split('.').forEach((b, i) => rr.writeUInt8(Number(b), 12 + i));
      parts.push(rr);
    }
    sock.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  t.after(() => sock.close());
  return { server: `127.0.0.1:${sock.address().port}`, records, queries: (n) => seen.get(n) ?? 0 };
}

interface Harness {
  readonly dns: DnsCache;
  readonly fake: FakeDns;
  readonly hosts: string;
  /** Injected clock, ms. */
  clock: number;
  changes: number;
  readonly logs: string[];
  /** Moves the clock by `s` seconds, fires the refresh timer, and waits until `cond` holds (max 2 s real time). */
  advance(s: number, cond?: () => boolean): Promise<boolean>;
}

async function harness(t: TestContext, hostsText = ''): Promise<Harness> {
  const fake = await fakeDns(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = path.join(dir, 'hosts');
  writeFileSync(hosts, hostsText);
  t.mock.timers.enable({ apis: ['setInterval'] });
  const logs: string[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(String((JSON.parse(line) as { msg: string }).msg)); } });
  const h: Harness = {
    fake, hosts, clock: 1_000_000, changes: 0, logs,
    dns: new DnsCache({ servers: [fake.server], log, onChange: () => { h.changes++; }, hostsFile: hosts, now: () => h.clock }),
    async advance(s, cond = () => true) {
      h.clock += s * 1000;
      t.mock.timers.tick(1000);
      const end = performance.now() + 2000;
      while (!cond()) {
        if (performance.now() > end) return false;
        await new Promise((r) => setImmediate(r));
      }
      return true;
    },
  };
  t.after(() => h.dns.close());
  return h;
}

test('dns: an IP needs no lookup; a name from the hosts file wins over DNS, any case', async (t: TestContext) => {
  t.plan(4);
  const h = await harness(t, '# comment\n10.1.1.1   web.internal  Alias.Internal # trailing\n::1 six.internal\n');
  h.fake.records.set('web.internal', ['10.9.9.9', 60]);
  await h.dns.prepare(['web.internal', 'ALIAS.internal', 'six.internal', '192.0.2.7']);
  t.assert.deepStrictEqual(
    ['web.internal', 'alias.internal', 'six.internal', '192.0.2.7'].map((n) => h.dns.get(n)),
    ['10.1.1.1', '10.1.1.1', '::1', '192.0.2.7'],
  );
  t.assert.equal(h.fake.queries('web.internal'), 0, 'the DNS server was not asked');
  t.assert.equal(h.changes, 0);
  t.assert.deepStrictEqual(h.logs, []);
});

test('dns: an answer is cached for its TTL, asked again after it, and a new address is reported once', async (t: TestContext) => {
  t.plan(7);
  const h = await harness(t);
  h.fake.records.set('db.example', ['10.0.0.1', 30]);
  await h.dns.prepare(['db.example']);
  t.assert.equal(h.dns.get('db.example'), '10.0.0.1');
  h.fake.records.set('db.example', ['10.0.0.2', 30]);
  await h.advance(29);
  await new Promise((r) => setTimeout(r, 50));
  t.assert.deepStrictEqual([h.fake.queries('db.example'), h.dns.get('db.example')], [1, '10.0.0.1'], 'still cached at 29 s');
  t.assert.ok(await h.advance(2, () => h.changes === 1), 'asked again after 31 s, and the change reported');
  t.assert.deepStrictEqual([h.fake.queries('db.example'), h.dns.get('db.example')], [2, '10.0.0.2']);
  t.assert.deepStrictEqual(h.logs, ['upstream node domain resolves to a new address']);
  // same answer again after the TTL: asked, but nothing to report
  t.assert.ok(await h.advance(31, () => h.fake.queries('db.example') === 3));
  await new Promise((r) => setTimeout(r, 50));
  t.assert.deepStrictEqual([h.changes, h.logs.length], [1, 1]);
});

test('dns: a name that does not resolve is cached as such, logged once, and reported when it starts resolving', async (t: TestContext) => {
  t.plan(6);
  const h = await harness(t);
  await h.dns.prepare(['nope.example']);
  t.assert.equal(h.dns.get('nope.example'), undefined);
  t.assert.deepStrictEqual(h.logs, ['upstream node domain does not resolve; its node is not used']);
  // still failing after the negative TTL: asked again, no new log, no change
  t.assert.ok(await h.advance(NEGATIVE_TTL_S + 1, () => h.fake.queries('nope.example') === 2));
  await new Promise((r) => setTimeout(r, 50));
  t.assert.deepStrictEqual([h.changes, h.logs.length], [0, 1]);
  h.fake.records.set('nope.example', ['10.0.0.3', 60]);
  t.assert.ok(await h.advance(NEGATIVE_TTL_S + 1, () => h.changes === 1), 'the change is reported');
  t.assert.equal(h.dns.get('nope.example'), '10.0.0.3');
});

test('dns: an edited hosts file is read again when the entry expires', async (t: TestContext) => {
  t.plan(3);
  const h = await harness(t, '10.1.1.1 web.internal\n');
  await h.dns.prepare(['web.internal']);
  t.assert.equal(h.dns.get('web.internal'), '10.1.1.1');
  writeFileSync(h.hosts, '10.2.2.2 web.internal\n');
  const later = new Date(Date.now() + 5000);
  utimesSync(h.hosts, later, later); // a different mtime even within the same millisecond
  t.assert.ok(await h.advance(DEFAULT_TTL_S + 1, () => h.changes === 1));
  t.assert.equal(h.dns.get('web.internal'), '10.2.2.2');
});

test('dns: only names the current snapshot uses are refreshed', async (t: TestContext) => {
  t.plan(2);
  const h = await harness(t);
  h.fake.records.set('old.example', ['10.0.0.1', 5]);
  h.fake.records.set('new.example', ['10.0.0.2', 5]);
  await h.dns.prepare(['old.example']);
  await h.dns.prepare(['new.example']); // the next snapshot no longer uses old.example
  t.assert.ok(await h.advance(6, () => h.fake.queries('new.example') === 2));
  await new Promise((r) => setTimeout(r, 50));
  t.assert.equal(h.fake.queries('old.example'), 1);
});

test('dns: the system resolver (no dns_resolver): localhost is 127.0.0.1, an .invalid name does not resolve', async (t: TestContext) => {
  t.plan(3);
  const logs: string[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (line: string) => { logs.push(String((JSON.parse(line) as { msg: string }).msg)); } });
  const dns = new DnsCache({ servers: [], log, onChange: () => undefined });
  t.after(() => dns.close());
  await dns.prepare(['localhost', 'does-not-exist.invalid']);
  t.assert.equal(dns.get('localhost'), '127.0.0.1');
  t.assert.equal(dns.get('does-not-exist.invalid'), undefined);
  t.assert.deepStrictEqual(logs, ['upstream node domain does not resolve; its node is not used']);
});
