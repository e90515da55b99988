// A bounded batch processor with the semantics of APISIX's apisix/utils/batch-processor.lua (the logger plugins' queue):
//   - entries gather in a buffer; the buffer becomes a batch when it holds batch_max_size entries, when no entry came
//     for inactive_timeout seconds, or buffer_duration seconds after its first entry, whichever comes first (APISIX
//     checks the two timeouts every inactive_timeout; this arms one timer for the earlier deadline, re-armed lazily,
//     so push() never touches a timer but the first one);
//   - a batch is handed to the async flush function, which resolves `true`, an error string, or
//     `{ error, done }` (the first `done` entries were consumed: APISIX's first_fail - 1); a failed batch (its
//     unconsumed rest) is retried after retry_delay seconds, at most max_retry_count times, then dropped (`failed`);
//   - bounded: an entry is refused (`dropped`) when max_pending_entries entries, or entries weighing more than
//     maxPendingWeight in all (the syslog sender's drop_limit bytes), are waiting: in the buffer, queued, being
//     flushed or waiting for a retry (APISIX's batch-processor-manager cap, max_pending_entries, default 8192);
//   - at most maxInFlight flushes run at once (APISIX runs each batch in its own timer, unbounded); the rest queue;
//   - push() is O(1), synchronous and never throws: batches are started from setImmediate, never inside push();
//   - timers are unref'd (the setImmediate is not: unref'd, it would wait for some other event to wake the loop); close() stops intake, sends what is left at once (retries without their delay) and gives up
//     after a bound, counting what did not go out as failed.
// Time comes from an injected Clock (tests drive a fake one).
import { NODE_TIMERS } from '../lib/settle.ts';

export interface BatchConf {
  readonly name: string;
  readonly batch_max_size: number;
  /** Seconds. */
  readonly inactive_timeout: number;
  /** Seconds. */
  readonly buffer_duration: number;
  readonly max_retry_count: number;
  /** Seconds. */
  readonly retry_delay: number;
}

/** APISIX's batch processor schema defaults. */
export const BATCH_DEFAULTS: Omit<BatchConf, 'name'> = {
  batch_max_size: 1000, inactive_timeout: 5, buffer_duration: 60, max_retry_count: 0, retry_delay: 1,
};

/** batch-processor-manager's DEFAULT_MAX_PENDING_ENTRIES. */
export const DEFAULT_MAX_PENDING_ENTRIES = 8192;

/** true: all consumed; a string: nothing consumed; { error, done }: the first `done` entries consumed. */
export type FlushResult = true | string | { readonly error: string; readonly done: number };
export type FlushFn<T> = (entries: readonly T[]) => Promise<FlushResult>;

export interface Clock {
  /** Milliseconds, monotonic. */
  readonly now: () => number;
  /** keepAlive false: the timer does not keep the process alive (unref). */
  readonly setTimeout: (fn: () => void, ms: number, keepAlive: boolean) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
}

export const REAL_CLOCK: Clock = { now: () => performance.now(), ...NODE_TIMERS };

export interface BatchOptions<T> {
  /** Default DEFAULT_MAX_PENDING_ENTRIES. */
  readonly maxPendingEntries?: number;
  /** Cap on the summed weight of waiting entries; default unbounded. */
  readonly maxPendingWeight?: number;
  /** An entry's weight (e.g. its bytes); computed at push and again when it leaves. Default 0. */
  readonly weigh?: (entry: T) => number;
  /** Flushes running at once; default 1. */
  readonly maxInFlight?: number;
  readonly clock?: Clock;
  /** APISIX's error lines ("failed to process entries: …", "exceeded the max_retry_count …"). */
  readonly onError?: (msg: string) => void;
}

export interface BatchStats {
  /** Accepted by push(). */
  readonly pushed: number;
  /** Consumed by the flush function. */
  readonly processed: number;
  /** Given up after the retries (or at close). */
  readonly failed: number;
  /** Refused by push() (over a cap, or closed). */
  readonly dropped: number;
  /** Accepted and not yet processed or failed. */
  readonly pending: number;
  readonly pendingWeight: number;
}

class Batch<T> {
  entries: readonly T[];
  weight: number;
  retries = 0;
  retryTimer: unknown = undefined;
  constructor(entries: readonly T[], weight: number) {
    this.entries = entries;
    this.weight = weight;
  }
}

const noWeight = (): number => 0;

export class BatchProcessor<T> {
  readonly #conf: BatchConf;
  readonly #flush: FlushFn<T>;
  readonly #clock: Clock;
  readonly #weigh: (entry: T) => number;
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  readonly #maxInFlight: number;
  readonly #onError: ((msg: string) => void) | undefined;
  readonly #inactiveMs: number;
  readonly #durationMs: number;

  #buf: T[] = [];
  #bufWeight = 0;
  #firstAt = 0;
  #lastAt = 0;
  #timer: unknown = undefined;
  readonly #ready: Batch<T>[] = [];
  readonly #retrying = new Set<Batch<T>>();
  readonly #running = new Set<Batch<T>>();
  #kickPending = false;
  #closing: Promise<void> | undefined = undefined;
  /** Past close()'s first bound: no more retries. */
  #givingUp = false;
  /** Past close()'s last bound: settlements of abandoned flushes are no longer counted. */
  #finished = false;
  #onIdle: (() => void) | undefined = undefined;

  #pushed = 0;
  #processed = 0;
  #failed = 0;
  #dropped = 0;
  #pending = 0;
  #pendingWeight = 0;

  constructor(conf: BatchConf, flush: FlushFn<T>, opts: BatchOptions<T> = {}) {
    this.#conf = conf;
    this.#flush = flush;
    this.#clock = opts.clock ?? REAL_CLOCK;
    this.#weigh = opts.weigh ?? noWeight;
    this.#maxEntries = opts.maxPendingEntries ?? DEFAULT_MAX_PENDING_ENTRIES;
    this.#maxWeight = opts.maxPendingWeight ?? Infinity;
    this.#maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    this.#onError = opts.onError;
    this.#inactiveMs = conf.inactive_timeout * 1000;
    this.#durationMs = conf.buffer_duration * 1000;
  }

  /** Queues one entry; false when it was refused (and counted as dropped). */
  push(entry: T): boolean {
    const w = this.#weigh(entry);
    if (this.#closing !== undefined || this.#pending >= this.#maxEntries || this.#pendingWeight + w > this.#maxWeight) {
      this.#dropped++;
      return false;
    }
    this.#pushed++;
    this.#pending++;
    this.#pendingWeight += w;
    this.#buf.push(entry);
    this.#bufWeight += w;
    const now = this.#clock.now();
    if (this.#buf.length === 1) this.#firstAt = now;
    this.#lastAt = now;
    if (this.#buf.length >= this.#conf.batch_max_size) this.#cut();
    else if (this.#timer === undefined) this.#arm(this.#deadline() - now);
    return true;
  }

  stats(): BatchStats {
    return {
      pushed: this.#pushed, processed: this.#processed, failed: this.#failed, dropped: this.#dropped,
      pending: this.#pending, pendingWeight: this.#pendingWeight,
    };
  }

  /**
   * Refuses new entries, flushes the buffer and every waiting batch now (a retry skips its delay) and resolves once
   * all settled. At `boundMs` what is still queued is failed and `abort` is called (the sender destroys its sockets,
   * so flushes in progress end); flushes that have still not settled `boundMs` later are abandoned as failed.
   */
  close(boundMs: number, abort?: () => void): Promise<void> {
    this.#closing ??= this.#close(boundMs, abort);
    return this.#closing;
  }

  async #close(boundMs: number, abort: (() => void) | undefined): Promise<void> {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cut();
    for (const b of this.#retrying) this.#requeue(b);
    this.#pump();
    if (await this.#idleWithin(boundMs)) return;
    this.#givingUp = true;
    for (const b of this.#ready.splice(0)) this.#fail(b, 'closing: not sent in time');
    abort?.();
    if (await this.#idleWithin(boundMs)) return;
    for (const b of this.#running) this.#fail(b, 'closing: flush did not end in time');
    this.#running.clear();
    this.#finished = true;
  }

  #idle(): boolean {
    return this.#running.size === 0 && this.#ready.length === 0 && this.#retrying.size === 0;
  }

  #idleWithin(ms: number): Promise<boolean> {
    if (this.#idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#onIdle = undefined;
        resolve(false);
      }, ms, true);
      this.#onIdle = () => {
        this.#clock.clearTimeout(timer);
        this.#onIdle = undefined;
        resolve(true);
      };
    });
  }

  #deadline(): number {
    return Math.min(this.#lastAt + this.#inactiveMs, this.#firstAt + this.#durationMs);
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), Math.max(1, Math.ceil(ms)), false);
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#buf.length === 0) return;
    const left = this.#deadline() - this.#clock.now();
    if (left <= 0) this.#cut();
    else this.#arm(left);
  }

  /** The buffer becomes a batch, queued for a flush. */
  #cut(): void {
    if (this.#buf.length === 0) return;
    this.#ready.push(new Batch(this.#buf, this.#bufWeight));
    this.#buf = [];
    this.#bufWeight = 0;
    if (this.#closing !== undefined) this.#pump();
    else this.#kick();
  }

  #kick(): void {
    if (this.#kickPending) return;
    this.#kickPending = true;
    // not unref'd: an unref'd immediate waits for some other event to wake the loop
    setImmediate(() => {
      this.#kickPending = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#running.size < this.#maxInFlight) {
      const b = this.#ready.shift();
      if (b === undefined) break;
      this.#running.add(b);
      void this.#run(b);
    }
    if (this.#onIdle !== undefined && this.#idle()) this.#onIdle();
  }

  async #run(b: Batch<T>): Promise<void> {
    let r: FlushResult;
    try {
      r = await this.#flush(b.entries);
    } catch (e) {
      r = e instanceof Error ? e.message : String(e);
    }
    if (!this.#running.delete(b) || this.#finished) return;
    this.#settle(b, r);
    this.#pump();
  }

  #settle(b: Batch<T>, r: FlushResult): void {
    if (r === true) {
      this.#done(b.entries.length, b.weight);
      return;
    }
    const err = typeof r === 'string' ? r : r.error;
    const done = typeof r === 'string' ? 0 : Math.min(Math.max(0, Math.trunc(r.done)), b.entries.length);
    const n = b.entries.length;
    if (done > 0) {
      let w = 0;
      for (let i = 0; i < done; i++) w += this.#weigh(b.entries[i] as T);
      this.#done(done, w);
      b.entries = b.entries.slice(done);
      b.weight -= w;
      this.#report(`failed to process entries [${n - done}/${n}]: ${err}`);
    } else {
      this.#report(`failed to process entries: ${err}`);
    }
    b.retries++;
    if (b.entries.length === 0) return;
    if (b.retries > this.#conf.max_retry_count || this.#givingUp) {
      this.#fail(b, `exceeded the max_retry_count[${b.retries}] dropping the entries`);
      return;
    }
    this.#retrying.add(b);
    if (this.#closing !== undefined) this.#requeue(b);
    else b.retryTimer = this.#clock.setTimeout(() => this.#requeue(b), this.#conf.retry_delay * 1000, false);
  }

  #requeue(b: Batch<T>): void {
    if (b.retryTimer !== undefined) this.#clock.clearTimeout(b.retryTimer);
    b.retryTimer = undefined;
    this.#retrying.delete(b);
    // a retry goes before newer batches, to keep the order where one flush runs at a time
    this.#ready.unshift(b);
    this.#pump();
  }

  #done(n: number, weight: number): void {
    this.#processed += n;
    this.#pending -= n;
    this.#pendingWeight -= weight;
  }

  #fail(b: Batch<T>, why: string): void {
    const n = b.entries.length;
    this.#failed += n;
    this.#pending -= n;
    this.#pendingWeight -= b.weight;
    b.entries = [];
    b.weight = 0;
    this.#report(why);
  }

  #report(msg: string): void {
    this.#onError?.(`Batch Processor[${this.#conf.name}] ${msg}`);
  }
}
