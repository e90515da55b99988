// The syslog plugin's sender: what APISIX does with batch-processor.lua plus lua-resty-logger-socket (api7's fork,
// 2.0.x), rebuilt so that a dead or slow syslog server costs the data plane nothing but the records it drops.
//   push(line)  an RFC 5424 line (lib/rfc5424.ts). O(1), synchronous, never throws, never waits: the line joins a
//               BatchProcessor (batch_max_size / inactive_timeout / buffer_duration / max_retry_count / retry_delay),
//               or is dropped and counted once drop_limit bytes or max_pending_entries lines are waiting.
//   a flush     one batch, sent as soon as the batch processor lets it go. logger-socket keeps whatever is below
//               flush_limit bytes in its own buffer until a later log() pushes it over, and APISIX never calls
//               flush(), so a quiet route's last records wait for the next ones (forever, or until the cached logger
//               is evicted and they are lost). Here nothing is held below the batch processor: flush_limit only
//               cuts a TCP batch into writes of at most flush_limit bytes (whole records; a bigger record goes
//               alone), which makes the send timeout a no-progress timeout per write and lets a failed batch resume
//               after the records that were written, as logger-socket sends its buffer once it reaches flush_limit.
//   TCP / TLS   LF-terminated records (RFC 6587 non-transparent framing) on kept-alive connections: at most
//               pool_size flushes run at once and each holds one connection, so at most pool_size connections are
//               open (logger-socket's setkeepalive(0, pool_size) pool: idle ones are kept, without an idle timeout).
//               TLS verifies the server (rejectUnauthorized, and the name: SNI is the host unless it is an IP), as
//               logger-socket's ssl_verify defaults to; the trust store is `ca` or Node's. APISIX itself passes
//               `tls` to logger-socket, which only knows `ssl`, so APISIX sends plain TCP whatever `tls` says.
//   UDP         one datagram per record (RFC 5426), records sent one after another on one connected socket.
//               logger-socket sends its whole buffer as one datagram, several records joined, which a receiver
//               takes for one message (rsyslog logs `…}#012<46>1 …`); that matches APISIX only where APISIX's own
//               tests run it (batch_max_size 1, flush_limit 1). Records over 65507 bytes cannot go: dropped at push.
//               ICMP "port unreachable" comes back as an asynchronous ECONNREFUSED: reported, not counted.
//   timeouts    `timeout` ms bounds the DNS lookup plus connect, the TLS handshake, and each write (no progress).
//   reconnects  after a failed connect or send the next connect waits a backoff (backoffMinMs doubling to
//               backoffMaxMs, reset by a full send); a flush that would wait longer than `timeout` fails at once.
//               A failed batch is retried by the batch processor (max_retry_count, retry_delay). logger-socket's
//               own 3 retries at 100 ms are not repeated: its errors never reach APISIX's batch processor anyway.
//   counting    sent = records handed to the kernel (TCP cannot tell more), failed = given up after the retries,
//               dropped = refused at push. Errors go to onError, at most one a second with a count of the others.
import { lookup } from 'node:dns';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { settleOnce } from '../lib/settle.ts';
import { connect as tlsConnect } from 'node:tls';
import { BatchProcessor, REAL_CLOCK, type BatchConf, type Clock, type FlushResult } from './batch-processor.ts';

/** The plugin conf after the schema filled its defaults (plugins/syslog-schema.ts). */
export interface SyslogSenderConf extends BatchConf {
  readonly host: string;
  readonly port: number;
  readonly sock_type: 'tcp' | 'udp';
  readonly tls: boolean;
  /** Milliseconds. */
  readonly timeout: number;
  readonly flush_limit: number;
  readonly drop_limit: number;
  readonly pool_size: number;
}

export interface SyslogSenderOptions {
  /** Trusted CAs for tls (PEM); default Node's store. */
  readonly ca?: string | readonly string[];
  /** plugin_metadata max_pending_entries (default 8192), per sender. */
  readonly maxPendingEntries?: number;
  readonly clock?: Clock;
  /** Default 100 (logger-socket's retry_interval). */
  readonly backoffMinMs?: number;
  /** Default 5000. */
  readonly backoffMaxMs?: number;
  /** How long close() tries to send what is left; default `timeout`. */
  readonly closeTimeoutMs?: number;
  /** Rate-limited error lines. */
  readonly onError?: (msg: string) => void;
}

export interface SyslogStats {
  readonly sent: number;
  readonly dropped: number;
  readonly failed: number;
  /** Bytes of records waiting (buffered or in a batch not yet settled): never over drop_limit. */
  readonly pendingBytes: number;
}

/** The largest UDP payload over IPv4. */
export const UDP_MAX_PAYLOAD = 65507;

/** Checks the schema cannot express (logger-socket's init checks, and settings that would do nothing). */
export function checkSenderConf(c: Pick<SyslogSenderConf, 'port' | 'flush_limit' | 'drop_limit' | 'tls' | 'sock_type'>): string | undefined {
  if (c.port < 1 || c.port > 65535) return '"port" out of range 1~65535';
  if (c.flush_limit >= c.drop_limit) return '"flush_limit" should be < "drop_limit"';
  if (c.tls && c.sock_type === 'udp') return '"tls" needs "sock_type" "tcp": there is no TLS over UDP';
  return undefined;
}

const bytes = (s: string): number => Buffer.byteLength(s);

/** Fires `onExpire` once `ms` pass without a touch(); one timer, re-armed lazily. */
class ProgressTimer {
  readonly #clock: Clock;
  readonly #ms: number;
  readonly #onExpire: () => void;
  #last: number;
  #handle: unknown;
  constructor(clock: Clock, ms: number, onExpire: () => void) {
    this.#clock = clock;
    this.#ms = ms;
    this.#onExpire = onExpire;
    this.#last = clock.now();
    this.#handle = clock.setTimeout(() => this.#fire(), ms, false);
  }
  touch(): void {
    this.#last = this.#clock.now();
  }
  #fire(): void {
    const left = this.#last + this.#ms - this.#clock.now();
    if (left > 0) this.#handle = this.#clock.setTimeout(() => this.#fire(), Math.ceil(left), false);
    else this.#onExpire();
  }
  stop(): void {
    this.#clock.clearTimeout(this.#handle);
  }
}

class Backoff {
  readonly #clock: Clock;
  readonly #min: number;
  readonly #max: number;
  #failures = 0;
  #nextAt = 0;
  lastError = '';
  constructor(clock: Clock, min: number, max: number) {
    this.#clock = clock;
    this.#min = min;
    this.#max = max;
  }
  failed(err: string): void {
    this.lastError = err;
    this.#nextAt = this.#clock.now() + Math.min(this.#max, this.#min * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
  }
  succeeded(): void {
    this.#failures = 0;
    this.#nextAt = 0;
  }
  /** Milliseconds until the next connect may start. */
  waitMs(): number {
    return Math.max(0, this.#nextAt - this.#clock.now());
  }
}

interface Transport {
  send(entries: readonly string[]): Promise<FlushResult>;
  destroy(): void;
}

/** Waits out the backoff if it ends within `timeout`; an error string otherwise (or when closed meanwhile). */
async function throughBackoff(b: Backoff, clock: Clock, timeout: number, closed: () => boolean): Promise<string | undefined> {
  const wait = b.waitMs();
  if (wait === 0) return undefined;
  if (wait >= timeout) return `not reconnecting for ${Math.ceil(wait)} ms after: ${b.lastError}`;
  await new Promise<void>((r) => clock.setTimeout(r, wait, false));
  return closed() ? 'sender closed' : undefined;
}

const partial = (err: string, done: number): FlushResult => (done === 0 ? err : { error: err, done });

class StreamTransport implements Transport {
  readonly #conf: SyslogSenderConf;
  readonly #opts: SyslogSenderOptions;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #idle: Socket[] = [];
  readonly #open = new Set<Socket>();
  #closed = false;

  constructor(conf: SyslogSenderConf, opts: SyslogSenderOptions, clock: Clock, backoff: Backoff) {
    this.#conf = conf;
    this.#opts = opts;
    this.#clock = clock;
    this.#backoff = backoff;
  }

  async send(entries: readonly string[]): Promise<FlushResult> {
    const sock = await this.#acquire();
    if (typeof sock === 'string') return sock;
    const { err, done } = await this.#write(sock, entries);
    if (err !== undefined) {
      sock.destroy();
      this.#backoff.failed(err);
      return partial(err, done);
    }
    this.#backoff.succeeded();
    if (this.#closed || sock.destroyed || this.#idle.length >= this.#conf.pool_size) sock.destroy();
    else this.#idle.push(sock);
    return true;
  }

  destroy(): void {
    this.#closed = true;
    this.#idle.length = 0;
    for (const s of this.#open) s.destroy();
  }

  async #acquire(): Promise<Socket | string> {
    for (let s = this.#idle.pop(); s !== undefined; s = this.#idle.pop()) {
      if (!s.destroyed && s.writable) return s;
    }
    if (this.#closed) return 'sender closed';
    const held = await throughBackoff(this.#backoff, this.#clock, this.#conf.timeout, () => this.#closed);
    if (held !== undefined) return held;
    const r = await this.#connect();
    if (typeof r === 'string') this.#backoff.failed(r);
    return r;
  }

  #connect(): Promise<Socket | string> {
    const { host, port, timeout, tls } = this.#conf;
    const s: Socket = tls
      ? tlsConnect({
        host, port, rejectUnauthorized: true,
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...(this.#opts.ca !== undefined ? { ca: this.#opts.ca as string | string[] } : {}),
      })
      : netConnect({ host, port });
    this.#open.add(s);
    return settleOnce<Socket | string>(timeout, () => `connect to ${host}:${port} timed out (${timeout} ms)`, (o) => {
      const done = (r: Socket | string): void => { o.finish(r); };
      s.on('error', (e: Error) => done(`connect to ${host}:${port} failed: ${e.message}`));
      s.on('close', () => {
        this.#open.delete(s);
        const i = this.#idle.indexOf(s);
        if (i >= 0) this.#idle.splice(i, 1);
        done(`connect to ${host}:${port} failed: connection closed`);
      });
      s.on('data', () => { /* a syslog server has nothing to say; read it so nothing piles up */ });
      s.once('connect', () => {
        if (!tls) return done(s);
        // the handshake gets its own `timeout`, as logger-socket's sslhandshake does
        o.rearm(timeout, () => `TLS handshake with ${host}:${port} timed out (${timeout} ms)`);
      });
      if (tls) s.once('secureConnect', () => done(s));
      s.setNoDelay(true);
      s.setKeepAlive(true, 60_000);
      s.unref();
      if (this.#closed) done('sender closed');
      return (r) => { if (typeof r === 'string') s.destroy(); };
    }, { keepAlive: false, timers: this.#clock });
  }

  /** Writes the batch in pieces of at most flush_limit bytes; `done` counts the records in pieces written. */
  #write(s: Socket, entries: readonly string[]): Promise<{ err: string | undefined; done: number }> {
    return new Promise((resolve) => {
      let done = 0;
      let finished = false;
      const finish = (err: string | undefined): void => {
        if (finished) return;
        finished = true;
        timer.stop();
        s.off('close', onClose);
        resolve({ err, done });
      };
      const onClose = (): void => finish('connection closed while sending');
      const timer = new ProgressTimer(this.#clock, this.#conf.timeout, () => finish(`send timed out (${this.#conf.timeout} ms without progress)`));
      s.on('close', onClose);
      let i = 0;
      while (i < entries.length && !finished) {
        let piece = entries[i] as string;
        let size = bytes(piece);
        let j = i + 1;
        for (; j < entries.length; j++) {
          const next = entries[j] as string;
          const n = bytes(next);
          if (size + n > this.#conf.flush_limit) break;
          piece += next;
          size += n;
        }
        const upto = j;
        s.write(piece, (e) => {
          if (e) return finish(`send failed: ${e.message}`);
          done = upto;
          timer.touch();
          if (upto === entries.length) finish(undefined);
        });
        i = j;
      }
    });
  }
}

class UdpTransport implements Transport {
  readonly #conf: SyslogSenderConf;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #report: (msg: string) => void;
  #sock: UdpSocket | undefined = undefined;
  #closed = false;

  constructor(conf: SyslogSenderConf, clock: Clock, backoff: Backoff, report: (msg: string) => void) {
    this.#conf = conf;
    this.#clock = clock;
    this.#backoff = backoff;
    this.#report = report;
  }

  async send(entries: readonly string[]): Promise<FlushResult> {
    const s = this.#sock ?? await this.#open();
    if (typeof s === 'string') return s;
    return new Promise((resolve) => {
      let i = 0;
      let finished = false;
      const finish = (err: string | undefined): void => {
        if (finished) return;
        finished = true;
        timer.stop();
        if (err === undefined) {
          this.#backoff.succeeded();
          return resolve(true);
        }
        this.#drop(s);
        this.#backoff.failed(err);
        resolve(partial(err, i));
      };
      const timer = new ProgressTimer(this.#clock, this.#conf.timeout, () => finish(`send timed out (${this.#conf.timeout} ms)`));
      const next = (): void => {
        if (i === entries.length) return finish(undefined);
        if (this.#closed) return finish('sender closed');
        s.send(entries[i] as string, (e) => {
          if (e) return finish(`send failed: ${e.message}`);
          i++;
          timer.touch();
          next();
        });
      };
      next();
    });
  }

  destroy(): void {
    this.#closed = true;
    if (this.#sock !== undefined) this.#drop(this.#sock);
  }

  #drop(s: UdpSocket): void {
    if (this.#sock === s) this.#sock = undefined;
    try { s.close(); } catch { /* already closed */ }
  }

  async #open(): Promise<UdpSocket | string> {
    if (this.#closed) return 'sender closed';
    const held = await throughBackoff(this.#backoff, this.#clock, this.#conf.timeout, () => this.#closed);
    if (held !== undefined) return held;
    const r = await this.#connect();
    if (typeof r === 'string') {
      this.#backoff.failed(r);
      return r;
    }
    if (this.#closed) {
      r.close();
      return 'sender closed';
    }
    // another flush may have opened one meanwhile (only with maxInFlight > 1); keep the first
    if (this.#sock !== undefined) {
      r.close();
      return this.#sock;
    }
    this.#sock = r;
    return r;
  }

  /** Resolves the host (the lookup counts against `timeout`) and connects a UDP socket to it. */
  #connect(): Promise<UdpSocket | string> {
    const { host, port, timeout } = this.#conf;
    let sock: UdpSocket | undefined;
    return settleOnce<UdpSocket | string>(timeout, () => `connect to ${host}:${port} timed out (${timeout} ms)`, (o) => {
      const done = (r: UdpSocket | string): void => { o.finish(r); };
      const withAddress = (address: string, family: number): void => {
        if (o.done) return;
        const s = createSocket(family === 6 ? 'udp6' : 'udp4');
        sock = s;
        s.on('error', (e: NodeJS.ErrnoException) => {
          if (!o.done) return done(`connect to ${host}:${port} failed: ${e.message}`);
          // ICMP port unreachable for an earlier datagram: the server is not listening (nothing to count)
          this.#report(`syslog server ${host}:${port}: ${e.message}`);
        });
        s.on('message', () => { /* not a syslog client's business */ });
        s.connect(port, address, () => {
          s.unref();
          done(s);
        });
      };
      const family = isIP(host);
      if (family !== 0) withAddress(host, family);
      else {
        lookup(host, (e, address, fam) => {
          if (e) done(`resolve ${host} failed: ${e.message}`);
          else withAddress(address, fam);
        });
      }
      return (r) => { if (typeof r === 'string' && sock !== undefined) this.#drop(sock); };
    }, { keepAlive: false, timers: this.#clock });
  }
}

export class SyslogSender {
  readonly #udp: boolean;
  readonly #bp: BatchProcessor<string>;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #closeMs: number;
  readonly #onError: ((msg: string) => void) | undefined;
  #tooBig = 0;
  #lastReport = -Infinity;
  #suppressed = 0;
  #closing: Promise<void> | undefined = undefined;

  /** `conf` has been validated (schema and checkSenderConf); a conf that fails checkSenderConf throws here. */
  constructor(conf: SyslogSenderConf, opts: SyslogSenderOptions = {}) {
    const bad = checkSenderConf(conf);
    if (bad !== undefined) throw new Error(`syslog: ${bad}`);
    this.#udp = conf.sock_type === 'udp';
    this.#clock = opts.clock ?? REAL_CLOCK;
    this.#closeMs = opts.closeTimeoutMs ?? conf.timeout;
    this.#onError = opts.onError;
    const report = (msg: string): void => this.#report(msg);
    const backoff = new Backoff(this.#clock, opts.backoffMinMs ?? 100, opts.backoffMaxMs ?? 5000);
    this.#transport = this.#udp
      ? new UdpTransport(conf, this.#clock, backoff, report)
      : new StreamTransport(conf, opts, this.#clock, backoff);
    this.#bp = new BatchProcessor<string>(conf, (entries) => this.#transport.send(entries), {
      maxPendingEntries: opts.maxPendingEntries,
      maxPendingWeight: conf.drop_limit,
      weigh: bytes,
      maxInFlight: this.#udp ? 1 : conf.pool_size,
      clock: this.#clock,
      onError: report,
    });
  }

  /** Queues one framed record; never throws, never waits. */
  push(line: string): void {
    if (this.#udp && line.length > UDP_MAX_PAYLOAD / 3 && bytes(line) > UDP_MAX_PAYLOAD) {
      this.#tooBig++;
      this.#report(`syslog: a record of ${bytes(line)} bytes does not fit in a UDP datagram: dropped`);
      return;
    }
    if (!this.#bp.push(line) && this.#closing === undefined) {
      this.#report('syslog: buffer full (drop_limit bytes or max_pending_entries records waiting): dropping records');
    }
  }

  stats(): SyslogStats {
    const s = this.#bp.stats();
    return { sent: s.processed, dropped: s.dropped + this.#tooBig, failed: s.failed, pendingBytes: s.pendingWeight };
  }

  /** Sends what is waiting (bounded by closeTimeoutMs, then twice that for flushes in progress), then closes. */
  close(): Promise<void> {
    this.#closing ??= this.#bp.close(this.#closeMs, () => this.#transport.destroy()).then(() => this.#transport.destroy());
    return this.#closing;
  }

  #report(msg: string): void {
    if (this.#onError === undefined) return;
    const now = this.#clock.now();
    if (now - this.#lastReport < 1000) {
      this.#suppressed++;
      return;
    }
    this.#onError(this.#suppressed > 0 ? `${msg} (${this.#suppressed} more errors in the last second)` : msg);
    this.#lastReport = now;
    this.#suppressed = 0;
  }
}
