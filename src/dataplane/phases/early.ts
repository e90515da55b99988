// Reads the client while the upstream connect is in flight (as nginx does), so the first request is ready to go
// the moment the connection is up: one event-loop turn less per connection. The bytes are kept here — not written
// into the connecting socket — because a connect failure retries another node and must resend them. Bounded: past
// EARLY_CAP bytes the client is paused until the relay starts.
import type { Socket } from 'node:net';

export const EARLY_CAP = 64 * 1024;

export class EarlyBytes {
  readonly #sock: Socket;
  #chunks: Buffer[] = [];
  #size = 0;
  ended = false;
  readonly #onData = (d: Buffer): void => {
    this.#chunks.push(d);
    this.#size += d.length;
    if (this.#size >= EARLY_CAP) this.#sock.pause();
  };
  readonly #onEnd = (): void => { this.ended = true; };

  constructor(sock: Socket, first: Buffer | undefined, ended: boolean) {
    this.#sock = sock;
    if (first !== undefined && first.length > 0) {
      this.#chunks.push(first);
      this.#size = first.length;
    }
    this.ended = ended;
    if (!ended) {
      sock.on('data', this.#onData);
      sock.once('end', this.#onEnd);
      if (this.#size < EARLY_CAP) sock.resume();
    }
  }

  /** Stops reading (the socket stays paused) and hands over what was read. */
  stop(): Buffer | undefined {
    this.#sock.pause();
    this.#sock.removeListener('data', this.#onData);
    this.#sock.removeListener('end', this.#onEnd);
    const c = this.#chunks;
    this.#chunks = [];
    return c.length === 0 ? undefined : c.length === 1 ? c[0] : Buffer.concat(c, this.#size);
  }
}
