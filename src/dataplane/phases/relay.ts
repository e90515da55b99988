// Phase: pump bytes both ways until both sides are done. Hand-written (not pipe()) because it is the hot path:
// - backpressure is symmetric: when one side's write() returns false (its buffer passed the high-water mark), the
//   other side stops reading until 'drain' — so at most one chunk per direction is ever buffered;
// - half-close is honoured: a FIN from one side is passed on with end() and the other direction keeps flowing;
// - the idle timeout is one timer per session, re-armed lazily from the time of the last byte either way;
// - an error on one leg closes the other; nothing throws.
// Memory per idle session matters (thousands of them): the event handlers are module-level functions that find
// their session through a symbol on the socket, so a session costs one Relay object and one timer, no closures.
// DESIGN.md: this sits behind one small function (two sockets in, an end reason out) so that a native splice(2)
// relay can take its place.
import type { Socket } from 'node:net';
import type { EndReason } from '../session/end.ts';

export interface RelayResult {
  readonly reason: EndReason;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}

const kRelay = Symbol('sluice.relay');
type RelaySocket = Socket & { [kRelay]?: Relay };

class Relay {
  readonly client: RelaySocket;
  readonly upstream: RelaySocket;
  readonly idleMs: number;
  readonly resolve: (r: RelayResult) => void;
  lastActive: number;
  timer: NodeJS.Timeout | undefined;
  reason: EndReason | undefined;
  clientDone: boolean;
  upstreamDone: boolean;
  settled: boolean;

  constructor(client: RelaySocket, upstream: RelaySocket, idleMs: number, resolve: (r: RelayResult) => void) {
    this.client = client;
    this.upstream = upstream;
    this.idleMs = idleMs;
    this.resolve = resolve;
    this.lastActive = performance.now();
    this.timer = undefined;
    this.reason = undefined;
    this.clientDone = false;
    this.upstreamDone = false;
    this.settled = false;
  }

  fail(reason: EndReason): void {
    this.reason ??= reason;
    this.client.destroy();
    this.upstream.destroy();
  }

  settle(): void {
    if (this.settled || !this.clientDone || !this.upstreamDone) return;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.client[kRelay] = undefined;
    this.upstream[kRelay] = undefined;
    this.resolve({ reason: this.reason ?? 'Done', bytesFromClient: this.client.bytesRead, bytesToClient: this.client.bytesWritten });
  }
}

function onIdleCheck(r: Relay): void {
  if (r.settled) return;
  const idle = performance.now() - r.lastActive;
  if (idle >= r.idleMs) {
    r.timer = undefined;
    r.fail('IdleTimeout');
    return;
  }
  r.timer = setTimeout(onIdleCheck, r.idleMs - idle, r);
}

function onClientData(this: RelaySocket, chunk: Buffer): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.lastActive = performance.now();
  if (!r.upstream.write(chunk)) this.pause();
}
function onUpstreamData(this: RelaySocket, chunk: Buffer): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.lastActive = performance.now();
  if (!r.client.write(chunk)) this.pause();
}
function onClientDrain(this: RelaySocket): void {
  this[kRelay]?.upstream.resume();
}
function onUpstreamDrain(this: RelaySocket): void {
  this[kRelay]?.client.resume();
}
function onClientEnd(this: RelaySocket): void {
  const up = this[kRelay]?.upstream;
  if (up !== undefined && !up.destroyed) up.end();
}
function onUpstreamEnd(this: RelaySocket): void {
  const c = this[kRelay]?.client;
  if (c !== undefined && !c.destroyed) c.end();
}
function onClientError(this: RelaySocket): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.reason ??= 'ClientClosed';
  r.upstream.destroy();
}
function onUpstreamError(this: RelaySocket): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.reason ??= 'UpstreamReset';
  r.client.destroy();
}
function onClientClose(this: RelaySocket): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.clientDone = true;
  if (!r.upstream.destroyed && r.reason !== undefined) r.upstream.destroy();
  r.settle();
}
function onUpstreamClose(this: RelaySocket): void {
  const r = this[kRelay];
  if (r === undefined) return;
  r.upstreamDone = true;
  if (!r.client.destroyed && r.reason !== undefined) r.client.destroy();
  r.settle();
}

/**
 * `prefix`: client bytes already read by an earlier phase (ClientHello peek, early read), sent upstream first;
 * `clientEnded`: the client's FIN came with them (it is passed on right after the prefix).
 */
export function relay(client: Socket, upstream: Socket, idleMs: number, prefix?: Buffer, clientEnded = false): Promise<RelayResult> {
  return new Promise((resolve) => {
    const c = client as RelaySocket;
    const u = upstream as RelaySocket;
    const r = new Relay(c, u, idleMs, resolve);
    c[kRelay] = r;
    u[kRelay] = r;
    c.on('data', onClientData);
    u.on('data', onUpstreamData);
    c.on('drain', onClientDrain);
    u.on('drain', onUpstreamDrain);
    c.on('end', onClientEnd);
    u.on('end', onUpstreamEnd);
    c.on('error', onClientError);
    u.on('error', onUpstreamError);
    c.on('close', onClientClose);
    u.on('close', onUpstreamClose);
    r.timer = setTimeout(onIdleCheck, idleMs, r);
    if (prefix !== undefined && prefix.length > 0) upstream.write(prefix);
    if (clientEnded) upstream.end();
    // The client socket was accepted paused (pauseOnConnect): start reading now that there is somewhere to write.
    client.resume();
    // A side that is already gone (its 'close' was emitted before we listened) will not tell us again.
    if (client.closed) {
      r.reason ??= 'ClientClosed';
      onClientClose.call(c);
    }
    if (upstream.closed) {
      r.reason ??= 'UpstreamReset';
      onUpstreamClose.call(u);
    }
  });
}
