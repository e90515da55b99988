// The relay phase on the native addon: after connect, both fds are handed over to native/ (dup, then the Node
// sockets are closed) and the session's end comes back in a batch once per loop turn. Same contract as the
// TypeScript relay (phases/relay.ts): two sockets in, an end reason and byte counts out.
// A session the addon cannot take (TLS on either side, bytes Node still holds to write, an upstream that already
// ended) gets `undefined` and takes the TypeScript relay.
import { Socket } from 'node:net';
import type { RelayResult } from '../phases/relay.ts';
import type { Native } from './native.ts';

/** Stands in for the client socket of a session the addon holds (never connected; destroy() is harmless). */
export const DETACHED: Socket = new Socket();

const NOTHING = (): void => undefined;

/** The parts of a net.Socket's libuv handle used here (Node internals, stable in practice; native-notes.md). */
interface RawHandle { readonly fd?: number; readonly writeQueueSize?: number; reading?: boolean; readStop?(): number }
type WithHandle = Socket & { _handle?: RawHandle | null; encrypted?: boolean; _readableState?: { ended?: boolean } };

function handleOf(sock: Socket): RawHandle | undefined {
  const s = sock as WithHandle;
  if (s.encrypted === true || s.destroyed) return undefined;
  const h = s._handle;
  if (h === null || h === undefined || typeof h.fd !== 'number' || h.fd < 0 || typeof h.readStop !== 'function') return undefined;
  if (s.writableLength > 0 || (h.writeQueueSize ?? 0) > 0) return undefined;
  return h;
}

/** As net.Socket#pause does it, flag included (else Node would not start reading again on a fallback). */
function stopReading(h: RawHandle): void {
  if (h.reading === true) {
    h.reading = false;
    h.readStop?.();
  }
}

export class NativeRelay {
  readonly #native: Native;

  constructor(native: Native) { this.#native = native; }

  /**
   * Takes the session over, or answers undefined (the caller runs the TypeScript relay). `prefix`: client bytes an
   * earlier phase read, sent upstream first; `clientEnded`: the client's FIN came with them.
   */
  relay(client: Socket, upstream: Socket, idleMs: number, prefix: Buffer | undefined, clientEnded: boolean): { id: number; done: Promise<RelayResult> } | undefined {
    const ch = handleOf(client);
    const uh = handleOf(upstream);
    if (ch === undefined || uh === undefined || (upstream as WithHandle)._readableState?.ended === true) return undefined;
    if (client.closed || upstream.closed) return undefined;
    // What Node read and holds (an upstream's greeting, client bytes past the early read) goes with the hand-over.
    let toUpstream = prefix;
    const more = client.readableLength > 0 ? (client.read() as Buffer | null) : null;
    if (more !== null) toUpstream = toUpstream === undefined ? more : Buffer.concat([toUpstream, more]);
    const ended = clientEnded || (client as WithHandle)._readableState?.ended === true;
    const toClient = upstream.readableLength > 0 ? (upstream.read() as Buffer | null) ?? undefined : undefined;
    // read() may have restarted reading: stop both before the dup, so Node reads nothing more.
    stopReading(ch);
    stopReading(uh);
    const { promise: p, resolve } = Promise.withResolvers<RelayResult>();
    const sink = { connected: NOTHING, dialFailed: NOTHING, ended: resolve };
    const { id, rc } = this.#native.relay(sink, ch.fd ?? -1, uh.fd ?? -1, idleMs, toUpstream, ended, toClient, client.bytesRead, client.bytesWritten);
    if (rc !== 0) {
      // Out of fds or memory: the bytes go back into Node's buffers and the TypeScript relay takes the session.
      if (more !== null) client.unshift(more);
      if (toClient !== undefined) upstream.unshift(toClient);
      return undefined;
    }
    // Node closes its own fds; the addon holds the dups (never resetAndDestroy: it would reach them).
    client.destroy();
    upstream.destroy();
    return { id, done: p };
  }
}
