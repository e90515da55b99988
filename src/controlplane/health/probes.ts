// Active health probes. Each resolves (never rejects) with the outcome the checker counts:
// tcp: connect within the timeout; http/https: a request whose status line is read within the timeout;
// udp (Sluice): a datagram out, a reply starting with the expected prefix back (ICMP port unreachable = failure).
import { createSocket } from 'node:dgram';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { settleOnce } from '../../lib/settle.ts';

export type ProbeResult =
  | { readonly kind: 'success' }
  | { readonly kind: 'tcp_failure'; readonly why: string }
  | { readonly kind: 'timeout'; readonly why: string }
  | { readonly kind: 'http_failure'; readonly why: string; readonly status: number };

export interface HttpProbeSpec {
  readonly https: boolean;
  readonly path: string;
  readonly host: string | undefined;
  readonly headers: readonly string[];
  readonly verify: boolean;
  readonly healthyStatuses: readonly number[];
  readonly unhealthyStatuses: readonly number[];
}

const MAX_RESPONSE_HEAD = 16 * 1024;

export function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const sock = netConnect({ host: ip, port });
  return settleOnce<ProbeResult>(timeoutMs, () => ({ kind: 'timeout', why: `tcp connect timed out after ${timeoutMs} ms` }), (o) => {
    sock.once('connect', () => o.finish({ kind: 'success' }));
    sock.once('error', (err: NodeJS.ErrnoException) => o.finish({ kind: 'tcp_failure', why: `tcp connect failed: ${err.code ?? err.message}` }));
    return () => sock.destroy();
  });
}

export function httpProbe(ip: string, port: number, timeoutMs: number, spec: HttpProbeSpec): Promise<ProbeResult> {
  const hostHeader = spec.host ?? (isIP(ip) === 6 ? `[${ip}]` : ip);
  const sock = spec.https
    ? tlsConnect({ host: ip, port, servername: spec.host !== undefined && isIP(spec.host) === 0 ? spec.host : undefined, rejectUnauthorized: spec.verify })
    : netConnect({ host: ip, port });
  return settleOnce<ProbeResult>(timeoutMs, () => ({ kind: 'timeout', why: `http probe timed out after ${timeoutMs} ms` }), (o) => {
    const done = (r: ProbeResult): void => { o.finish(r); };
    let head = '';
    sock.once(spec.https ? 'secureConnect' : 'connect', () => {
      const extra = spec.headers.map((h) => `${h}\r\n`).join('');
      sock.write(`GET ${spec.path} HTTP/1.0\r\nHost: ${hostHeader}\r\nUser-Agent: sluice-healthcheck\r\n${extra}Connection: close\r\n\r\n`);
    });
    sock.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const eol = head.indexOf('\r\n');
      if (eol < 0) {
        if (head.length > MAX_RESPONSE_HEAD) done({ kind: 'http_failure', why: 'no status line in the response', status: 0 });
        return;
      }
      const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(head.slice(0, eol));
      if (m === null) {
        done({ kind: 'http_failure', why: 'bad status line', status: 0 });
        return;
      }
      const status = Number(m[1]);
      if (spec.healthyStatuses.includes(status)) done({ kind: 'success' });
      else done({ kind: 'http_failure', why: `http status ${status}`, status });
    });
    sock.once('end', () => done({ kind: 'http_failure', why: 'connection closed before a status line', status: 0 }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ kind: 'tcp_failure', why: `${spec.https ? 'https' : 'http'} probe failed: ${err.code ?? err.message}` }));
    return () => sock.destroy();
  });
}

export function udpProbe(ip: string, port: number, timeoutMs: number, payload: Buffer, expect: Buffer): Promise<ProbeResult> {
  const sock = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
  // A probe waiting for a reply must not keep the process alive: a stopped checker does not cancel the probes in
  // flight, and with a long `timeout` a closed gateway would otherwise linger that long (issue 7).
  sock.unref();
  return settleOnce<ProbeResult>(timeoutMs, () => ({ kind: 'timeout', why: `no udp reply within ${timeoutMs} ms` }), (o) => {
    sock.on('error', (err: NodeJS.ErrnoException) => o.finish({ kind: 'tcp_failure', why: `udp probe failed: ${err.code ?? err.message}` }));
    sock.on('message', (msg) => {
      if (msg.subarray(0, expect.length).equals(expect)) o.finish({ kind: 'success' });
      else o.finish({ kind: 'http_failure', why: 'udp reply does not start with the expected bytes', status: 0 });
    });
    sock.connect(port, ip, () => sock.send(payload));
    return () => { try { sock.close(); } catch { /* already closed */ } };
  }, { keepAlive: false });
}
