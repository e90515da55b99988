// The stream access log (nginx_config.stream: enable_access_log, access_log, access_log_format,
// access_log_format_escape). The `$var` template is compiled once into parts; a line is built per session end and
// buffered, and the buffer is written with O_APPEND at least every FLUSH_MS (so a line is on disk within 1 s of the
// session's end). Every worker appends to the same file; each write holds whole lines only. Bounded: past MAX_PENDING
// bytes waiting for the disk, lines are dropped and counted. The file is reopened when it is renamed or removed
// (logrotate's default), checked every REOPEN_CHECK_MS.
import { closeSync, fstatSync, mkdirSync, openSync, statSync, write, writeSync } from 'node:fs';
import path from 'node:path';

export const FLUSH_MS = 200;
const MAX_PENDING = 4 * 1024 * 1024;
const REOPEN_CHECK_MS = 1000;

/** What a log line can show about one session (TCP or UDP). */
export interface AccessRecord {
  readonly protocol: 'TCP' | 'UDP';
  readonly remoteAddr: string;
  readonly remotePort: number;
  readonly serverAddr: string;
  readonly serverPort: number;
  readonly status: number;
  /** Bytes sent to the client / received from it. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Seconds, as nginx's $session_time. */
  readonly sessionTime: number;
  readonly upstreamAddr: string | undefined;
  readonly routeId: string | undefined;
  readonly serviceId: string | undefined;
  readonly sni: string | undefined;
  /** The peer's own address (before a trusted PROXY protocol header replaced remoteAddr). */
  readonly realipRemoteAddr: string;
  readonly mqttClientId: string | undefined;
  readonly endReason: string;
  readonly endedAt: number;
}

type Part = string | ((r: AccessRecord) => string);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** nginx's $time_local: `25/Nov/2026:10:00:00 +0000` (local time with its offset). */
export function timeLocal(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()] ?? ''}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

const VARS: Readonly<Record<string, (r: AccessRecord) => string>> = {
  remote_addr: (r) => r.remoteAddr,
  remote_port: (r) => String(r.remotePort),
  server_addr: (r) => r.serverAddr,
  server_port: (r) => String(r.serverPort),
  protocol: (r) => r.protocol,
  status: (r) => String(r.status),
  bytes_sent: (r) => String(r.bytesSent),
  bytes_received: (r) => String(r.bytesReceived),
  session_time: (r) => r.sessionTime.toFixed(3),
  time_local: (r) => timeLocal(r.endedAt),
  time_iso8601: (r) => new Date(r.endedAt).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
  msec: (r) => (r.endedAt / 1000).toFixed(3),
  upstream_addr: (r) => r.upstreamAddr ?? '-',
  ssl_server_name: (r) => r.sni ?? '-',
  route_id: (r) => r.routeId ?? '-',
  service_id: (r) => r.serviceId ?? '-',
  realip_remote_addr: (r) => r.realipRemoteAddr,
  mqtt_client_id: (r) => r.mqttClientId ?? '-',
  sluice_end_reason: (r) => r.endReason,
};

/** A session variable of an ended session (syslog's log_format, plugin log hooks); undefined = no such variable. */
export function recordVariable(r: AccessRecord, name: string): string | undefined {
  return VARS[name]?.(r);
}

/** nginx's `default` escaping: `"`, `\` and bytes outside 0x20-0x7e as \xXX; `json`: JSON string escaping. */
function escaper(mode: 'default' | 'json'): (s: string) => string {
  if (mode === 'json') return (s) => JSON.stringify(s).slice(1, -1);
  // by code point (`u`): an astral character is its 4 UTF-8 bytes, not two halves of a surrogate pair (each U+FFFD)
  // eslint-disable-next-line no-control-regex -- matching control characters is the point: they are escaped
  return (s) => s.replace(/["\\\x00-\x1f\x7f-\u{10ffff}]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0xff ? [...Buffer.from(c)].map((b) => `\\x${b.toString(16).toUpperCase()}`).join('') : `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
}

/** Compiles `$var` / `${var}` templates; unknown variables render as `-` (and are returned for a warning). */
export function compileFormat(format: string, escape: 'default' | 'json'): { render: (r: AccessRecord) => string; unknown: string[] } {
  const esc = escaper(escape);
  const parts: Part[] = [];
  const unknown: string[] = [];
  const re = /\$(?:\{(\w+)\}|(\w+))/g;
  let last = 0;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    const name = m[1] ?? m[2] ?? '';
    const get = VARS[name];
    if (get === undefined) {
      unknown.push(name);
      parts.push('-');
    } else {
      parts.push((r) => esc(get(r)));
    }
    last = m.index + m[0].length;
  }
  if (last < format.length) parts.push(format.slice(last));
  return {
    render: (r) => {
      let out = '';
      for (const p of parts) out += typeof p === 'string' ? p : p(r);
      return out;
    },
    unknown,
  };
}

export interface AccessLogConf {
  readonly enabled: boolean;
  /** Absolute path. */
  readonly file: string;
  readonly format: string;
  readonly escape: 'default' | 'json';
}

export class AccessLog {
  readonly conf: AccessLogConf;
  readonly #render: (r: AccessRecord) => string;
  #fd: number | undefined;
  #ino = 0;
  #pending: string[] = [];
  #pendingBytes = 0;
  #writing = false;
  #timer: NodeJS.Timeout | undefined;
  #lastCheck = 0;
  dropped = 0;
  errors = 0;

  constructor(conf: AccessLogConf) {
    this.conf = conf;
    this.#render = compileFormat(conf.format, conf.escape).render;
  }

  #open(): void {
    mkdirSync(path.dirname(this.conf.file), { recursive: true });
    this.#fd = openSync(this.conf.file, 'a', 0o640);
    this.#ino = fstatSync(this.#fd).ino;
  }

  log(r: AccessRecord): void {
    if (!this.conf.enabled) return;
    const line = `${this.#render(r)}\n`;
    if (this.#pendingBytes + line.length > MAX_PENDING) {
      this.dropped++;
      return;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    this.#timer ??= setTimeout(() => { this.#timer = undefined; this.flush(); }, FLUSH_MS);
  }

  /** Writes what is buffered (one write call of whole lines). */
  flush(): void {
    if (this.#writing || this.#pending.length === 0) return;
    try {
      const now = Date.now();
      if (this.#fd === undefined) this.#open();
      else if (now - this.#lastCheck > REOPEN_CHECK_MS) {
        this.#lastCheck = now;
        let ino = -1;
        try { ino = statSync(this.conf.file).ino; } catch { /* removed: reopen */ }
        if (ino !== this.#ino) {
          closeSync(this.#fd);
          this.#fd = undefined;
          this.#open();
        }
      }
    } catch {
      this.errors++;
      this.#pending = [];
      this.#pendingBytes = 0;
      return;
    }
    const data = this.#pending.join('');
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writing = true;
    write(this.#fd as number, data, null, 'utf8', (err) => {
      this.#writing = false;
      if (err !== null) this.errors++;
      if (this.#pending.length > 0) this.flush();
    });
  }

  /** Writes what is buffered now, synchronously (at stop: no line may be lost). */
  flushSync(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    try {
      if (this.#fd === undefined) this.#open();
      const data = this.#pending.join('');
      this.#pending = [];
      this.#pendingBytes = 0;
      writeSync(this.#fd as number, data);
    } catch {
      this.errors++;
    }
  }

  close(): void {
    this.flushSync();
    if (this.#fd !== undefined) {
      try { closeSync(this.#fd); } catch { /* already closed */ }
    }
    this.#fd = undefined;
  }
}
