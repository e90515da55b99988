// Reads the first bytes of a client connection (a ClientHello, a PROXY header) before the later phases run.
// Bounded in bytes and time; leaves the socket paused; never throws. The caller owns the bytes: it puts them back
// (unshift) for a TLS handshake, or hands them to the relay as a prefix. `ended`: the client also sent its FIN.
import type { Socket } from 'node:net';
import { settleOnce } from '../../lib/settle.ts';

export type PrereadResult =
  | { readonly kind: 'done' | 'timeout'; readonly buf: Buffer; readonly ended: boolean }
  | { readonly kind: 'closed' };

/** Reads until `enough(buf)` says so, `maxBytes` are buffered, or `timeoutMs` passes. */
export function preread(sock: Socket, enough: (buf: Buffer) => boolean, maxBytes: number, timeoutMs: number): Promise<PrereadResult> {
  let buf: Buffer = Buffer.alloc(0);
  return settleOnce<PrereadResult>(timeoutMs, () => ({ kind: 'timeout', buf, ended: false }), (o) => {
    const onData = (d: Buffer): void => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (buf.length >= maxBytes || enough(buf)) o.finish({ kind: 'done', buf, ended: false });
    };
    const onEnd = (): void => { o.finish(buf.length > 0 ? { kind: 'done', buf, ended: true } : { kind: 'closed' }); };
    const onClose = (): void => { o.finish({ kind: 'closed' }); };
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onClose);
    sock.resume();
    return () => {
      sock.pause();
      sock.removeListener('data', onData);
      sock.removeListener('end', onEnd);
      sock.removeListener('close', onClose);
    };
  });
}
