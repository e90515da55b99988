// Binds one TCP listener in this worker with SO_REUSEPORT, so every worker has its own accept queue and the kernel
// spreads connections; no accepted socket crosses a thread. An all-interfaces listener binds [::] dual-stack
// (IPv4 clients appear as ::ffff:a.b.c.d and are unmapped), falling back to 0.0.0.0 on hosts without IPv6.
import { createServer, type Server, type Socket } from 'node:net';
import type { ListenerSpec } from '../../model/config.ts';

/** Per-socket buffer high-water mark: one 64 KiB read fits before write() asks the other side to pause. */
export const SOCKET_HWM = 64 * 1024;

export function listenTcp(spec: ListenerSpec, port: number, onConnection: (s: Socket) => void): Promise<Server> {
  const attempt = (host: string): Promise<Server> => new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_HWM }, onConnection);
    server.once('error', reject);
    server.listen({ host, port, reusePort: true, ipv6Only: false, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
  if (spec.host !== null) return attempt(spec.host);
  return attempt('::').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL') return attempt('0.0.0.0');
    throw err;
  });
}
