// Phase: pump bytes both ways until both sides are done. Hand-written (not pipe()) because it is the hot path:
// - backpressure is symmetric: when one side's write() returns false (its buffer passed the high-water mark), the
//   other side stops reading until 'drain' — so at most one chunk per direction is ever buffered;
// - half-close is honoured: a FIN from one side is passed on with end() and the other direction keeps flowing;
// - the idle timeout is the sockets' own inactivity timer (reset by every read and write on that socket);
// - an error on one leg closes the other; nothing throws.
// DESIGN.md: this sits behind one small function (two sockets in, an end reason out) so that a native splice(2)
// relay can take its place.
import type { Socket } from 'node:net';
import type { EndReason } from '../session/end.ts';

export interface RelayResult {
  readonly reason: EndReason;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}

/**
 * `prefix`: client bytes already read by an earlier phase (ClientHello peek), sent upstream first;
 * `clientEnded`: the client's FIN came with them (it is passed on right after the prefix).
 */
export function relay(client: Socket, upstream: Socket, idleMs: number, prefix?: Buffer, clientEnded = false): Promise<RelayResult> {
  return new Promise((resolve) => {
    let reason: EndReason | undefined;
    let clientDone = false;
    let upstreamDone = false;
    let resolved = false;
    const setReason = (r: EndReason): void => { reason ??= r; };

    const onClientData = (chunk: Buffer): void => {
      if (!upstream.write(chunk)) client.pause();
    };
    const onUpstreamData = (chunk: Buffer): void => {
      if (!client.write(chunk)) upstream.pause();
    };
    const onClientEnd = (): void => { if (!upstream.destroyed) upstream.end(); };
    const onUpstreamEnd = (): void => { if (!client.destroyed) client.end(); };
    const onTimeout = (): void => {
      setReason('IdleTimeout');
      client.destroy();
      upstream.destroy();
    };
    const onClientError = (): void => {
      setReason('ClientClosed');
      upstream.destroy();
    };
    const onUpstreamError = (): void => {
      setReason('UpstreamReset');
      client.destroy();
    };
    const settle = (): void => {
      if (resolved || !clientDone || !upstreamDone) return;
      resolved = true;
      resolve({ reason: reason ?? 'Done', bytesFromClient: client.bytesRead, bytesToClient: client.bytesWritten });
    };
    const onClientClose = (): void => { clientDone = true; if (!upstream.destroyed && reason !== undefined) upstream.destroy(); settle(); };
    const onUpstreamClose = (): void => { upstreamDone = true; if (!client.destroyed && reason !== undefined) client.destroy(); settle(); };

    client.on('data', onClientData);
    upstream.on('data', onUpstreamData);
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.on('end', onClientEnd);
    upstream.on('end', onUpstreamEnd);
    client.on('error', onClientError);
    upstream.on('error', onUpstreamError);
    client.on('close', onClientClose);
    upstream.on('close', onUpstreamClose);
    client.setTimeout(idleMs, onTimeout);
    upstream.setTimeout(idleMs, onTimeout);
    if (prefix !== undefined && prefix.length > 0) upstream.write(prefix);
    if (clientEnded) upstream.end();
    // The client socket was accepted paused (pauseOnConnect): start reading now that there is somewhere to write.
    client.resume();
    // A side that is already gone (its 'close' was emitted before we listened) will not tell us again.
    if (client.closed) { setReason('ClientClosed'); onClientClose(); }
    if (upstream.closed) { setReason('UpstreamReset'); onUpstreamClose(); }
  });
}
