// One answer from several event sources and a timeout, the pattern every connect, probe and first read shares: the
// first finish() wins and later ones are ignored; the timer is cleared and the caller's cleanup (listeners off, a
// failed socket destroyed) runs once, just before the promise settles. It never rejects.

/** Timers as the batch processor's clock has them (keepAlive false = unref'd), so tests can pass their own. */
export interface SettleTimers {
  readonly setTimeout: (fn: () => void, ms: number, keepAlive: boolean) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
}

export const NODE_TIMERS: SettleTimers = {
  setTimeout: (fn, ms, keepAlive) => {
    const h = setTimeout(fn, ms);
    if (!keepAlive) h.unref();
    return h;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Once<T> {
  /** Settles with `v` unless something settled first; true when this call did. */
  finish(v: T): boolean;
  readonly done: boolean;
  /** A new timeout from now (a second step with its own time, such as a TLS handshake after the connect). */
  rearm(ms: number, onTimeout: () => T): void;
}

export interface SettleOptions {
  /** Default true; false: a pending wait does not keep the process alive. */
  readonly keepAlive?: boolean;
  readonly timers?: SettleTimers;
}

/**
 * `run` wires the event sources to `o.finish` and returns the cleanup, which gets the answer (to destroy a socket on
 * a failure only, say). After `ms` without an answer the promise settles with `onTimeout()`.
 */
export function settleOnce<T>(ms: number, onTimeout: () => T, run: (o: Once<T>) => ((v: T) => void) | undefined, opts: SettleOptions = {}): Promise<T> {
  const timers = opts.timers ?? NODE_TIMERS;
  const keepAlive = opts.keepAlive ?? true;
  return new Promise<T>((resolve) => {
    let done = false;
    let settled: T | undefined;
    let cleanup: ((v: T) => void) | undefined;
    let timer: unknown;
    const o: Once<T> = {
      finish(v) {
        if (done) return false;
        done = true;
        settled = v;
        timers.clearTimeout(timer);
        cleanup?.(v);
        resolve(v);
        return true;
      },
      get done() { return done; },
      rearm(next, onNext) {
        if (done) return;
        timers.clearTimeout(timer);
        timer = timers.setTimeout(() => o.finish(onNext()), next, keepAlive);
      },
    };
    timer = timers.setTimeout(() => o.finish(onTimeout()), ms, keepAlive);
    const c = run(o);
    // run may have finished synchronously (a socket already closed): then its cleanup is due now
    if (done) c?.(settled as T);
    else cleanup = c;
  });
}
