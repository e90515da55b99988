// The addon's one instance in this worker (native/src/addon.c): it registers the callbacks once and routes what the
// addon reports — accepted connections to their listener's handler, dial failures and records to their session's
// sink. Sessions get their ids here.
import type { RelayResult } from '../phases/relay.ts';
import type { EndReason } from '../session/end.ts';
import type { NativeAddon } from './addon.ts';

/** native/src/sluice.h: record codes (0 = connected) and END_*, by code. */
const REASONS: readonly EndReason[] = ['Internal', 'Done', 'ClientClosed', 'UpstreamReset', 'IdleTimeout', 'Shutdown', 'Internal', 'ConnectFailed', 'ConnectTimeout', 'killed'];
export const NATIVE_SHUTDOWN = 5;
export const NATIVE_CONNECT_TIMEOUT = 8;
export const NATIVE_KILLED = 9;
const FIELDS = 4;
/** Records handed over per callback (more wait for the next callback of the same turn). */
const BATCH = 1024;

/** What the addon tells one session. */
export interface NativeSink {
  /** Its dial connected, in `ms` (natively dialed sessions only). */
  connected(ms: number): void;
  /** Its dial failed (NATIVE_CONNECT_TIMEOUT or not); Native#redial from inside tries another node. */
  dialFailed(code: number): void;
  ended(r: RelayResult): void;
}

/** A connection the addon accepted: the fd is the handler's (dial it, close it, or wrap it in a net.Socket). */
export type AcceptHandler = (fd: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number) => void;

/** A new client on a native UDP listener: its session waits (datagrams queued) for Native#udpOpen or #udpEnd. */
export type UdpHandler = (sessionId: number, remoteAddr: string, remotePort: number, localAddr: string, localPort: number) => void;

export class Native {
  readonly #addon: NativeAddon;
  readonly #records = new Float64Array(BATCH * FIELDS);
  readonly #sinks = new Map<number, NativeSink>();
  readonly #listeners = new Map<number, AcceptHandler>();
  readonly #udpListeners = new Map<number, UdpHandler>();
  #nextId = 1;
  #nextListener = 1;

  constructor(addon: NativeAddon) {
    this.#addon = addon;
    addon.init((n) => this.#flushed(n), this.#records,
      (lid, fd, ra, rp, la, lp) => this.#accepted(lid, fd, ra, rp, la, lp),
      (id, code) => this.#sinks.get(id)?.dialFailed(code),
      (lid, sid, ra, rp, la, lp) => {
        const h = this.#udpListeners.get(lid);
        if (h !== undefined) h(sid, ra, rp, la, lp);
        else addon.udpEnd(sid);
      });
  }

  #flushed(n: number): void {
    const rec = this.#records;
    for (let i = 0; i < n; i++) {
      const at = i * FIELDS;
      const id = rec[at] ?? 0;
      const sink = this.#sinks.get(id);
      if (sink === undefined) continue;
      const code = rec[at + 1] ?? 0;
      if (code === 0) {
        sink.connected(rec[at + 2] ?? 0);
        continue;
      }
      this.#sinks.delete(id);
      sink.ended({ reason: REASONS[code] ?? 'Internal', bytesFromClient: rec[at + 2] ?? 0, bytesToClient: rec[at + 3] ?? 0 });
    }
  }

  #accepted(lid: number, fd: number, ra: string, rp: number, la: string, lp: number): void {
    const h = this.#listeners.get(lid);
    if (h !== undefined) h(fd, ra, rp, la, lp);
    else this.#addon.closeFd(fd);
  }

  /** Relays two connected fds (dups are taken; the caller closes its own). Its id, and 0 or -errno. */
  relay(sink: NativeSink, clientFd: number, upstreamFd: number, idleMs: number, toUpstream: Buffer | undefined, clientEnded: boolean,
    toClient: Buffer | undefined, baseFrom: number, baseTo: number): { id: number; rc: number } {
    const id = this.#nextId++;
    const rc = this.#addon.relay(id, clientFd, upstreamFd, idleMs, toUpstream, clientEnded, toClient, baseFrom, baseTo);
    if (rc === 0) this.#sinks.set(id, sink);
    return { id, rc };
  }

  /** The byte counts of every live relay (dialing or relaying), by id, as of now. */
  counts(): Map<number, { from: number; to: number }> {
    const buf = new Float64Array((this.#sinks.size + 16) * 3);
    const n = this.#addon.relayCounts(buf);
    const out = new Map<number, { from: number; to: number }>();
    for (let i = 0; i < n; i++) out.set(buf[3 * i] ?? 0, { from: buf[3 * i + 1] ?? 0, to: buf[3 * i + 2] ?? 0 });
    return out;
  }

  /** Ends relay `id` now; its sink hears `killed` with the loop turn's records. False if it was not live. */
  kill(id: number): boolean {
    return this.#addon.relayEnd(id, NATIVE_KILLED) === 0;
  }

  /** A live UDP session's byte counts, or undefined if it has ended. */
  udpBytes(sessionId: number): { from: number; to: number } | undefined {
    const r = this.#addon.udpBytes(sessionId);
    return r === null ? undefined : { from: r[0], to: r[1] };
  }

  /** Accepts on a dup of this listening fd from now on (the caller closes Node's server). A listener id, or -errno. */
  listen(fd: number, onAccept: AcceptHandler): number {
    const lid = this.#nextListener++;
    const rc = this.#addon.listen(lid, fd);
    if (rc !== 0) return rc;
    this.#listeners.set(lid, onAccept);
    return lid;
  }

  unlisten(lid: number): void {
    this.#listeners.delete(lid);
    this.#addon.unlisten(lid);
  }

  /** Dials ip:port for an accepted client fd; from 0 on, the fd is the addon's and `sink` hears the rest. Else -errno. */
  dial(sink: NativeSink, clientFd: number, ip: string, port: number, timeoutMs: number, idleMs: number, toUpstream: Buffer | undefined): { id: number; rc: number } {
    const id = this.#nextId++;
    const rc = this.#addon.dial(id, clientFd, ip, port, timeoutMs, idleMs, toUpstream);
    if (rc === 0) this.#sinks.set(id, sink);
    return { id, rc };
  }

  /** Only from inside sink.dialFailed of session `id`. 0 or -errno. */
  redial(id: number, ip: string, port: number, timeoutMs: number): number { return this.#addon.redial(id, ip, port, timeoutMs); }

  closeFd(fd: number): void { this.#addon.closeFd(fd); }

  /** Takes a dup of this bound UDP socket (the caller closes Node's). A listener id, or -errno. */
  udpListen(fd: number, onSession: UdpHandler): number {
    const lid = this.#nextListener++;
    const rc = this.#addon.udpListen(lid, fd);
    if (rc !== 0) return rc;
    this.#udpListeners.set(lid, onSession);
    return lid;
  }

  /** Stops the listener; its sessions end (Shutdown records). */
  udpUnlisten(lid: number): void {
    this.#udpListeners.delete(lid);
    this.#addon.udpUnlisten(lid);
  }

  /** Connects a waiting UDP session to ip:port and sends what waited; `sink` hears its end. 0 or -errno. */
  udpOpen(sink: NativeSink, sessionId: number, ip: string, port: number, idleMs: number): number {
    const rc = this.#addon.udpOpen(sessionId, ip, port, idleMs);
    if (rc === 0) this.#sinks.set(sessionId, sink);
    return rc;
  }

  /** Ends a UDP session (waiting or open) with no record: its byte counts, or undefined if it had ended. */
  udpEnd(sessionId: number): { from: number; to: number } | undefined {
    this.#sinks.delete(sessionId);
    const r = this.#addon.udpEnd(sessionId);
    return r === null ? undefined : { from: r[0], to: r[1] };
  }

  /** Datagrams the addon dropped since it started, by cause. */
  udpDrops(): { queue_full: number; send_queue_full: number; table_full: number } {
    const [q, s, t] = this.#addon.udpDrops();
    return { queue_full: q, send_queue_full: s, table_full: t };
  }

  /** Ends every native session now (a worker stopping): each reports Shutdown. */
  endAll(): number { return this.#addon.endAll(NATIVE_SHUTDOWN); }
}
