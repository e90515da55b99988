// The Admin API's key check against guessing (issue 14): keys are compared in constant time (SHA-256 digests of the
// same length, every configured key compared, no early exit), and a client that keeps sending wrong keys gets its
// 401s later and later. Only wrong keys are slowed: a request with a good key is answered at once, whatever its
// address did before (and it clears that address's count). Bounded: one small entry per address (at most
// TABLE_CAP, the oldest dropped first) and at most WAITING_CAP answers held back at once (beyond that a 401 goes out
// at once: holding sockets must not become the attack).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AdminKey } from '../../model/config.ts';

/** Wrong keys from one address answered at once within WINDOW_MS; the ones after wait BASE_MS, doubling up to MAX_MS. */
export const FREE_FAILURES = 5;
const BASE_MS = 250;
const MAX_MS = 5000;
/** A failure older than this is forgotten (the count starts again). */
const WINDOW_MS = 60_000;
const TABLE_CAP = 4096;
const WAITING_CAP = 256;

interface Failures { count: number; last: number }

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export interface AuthCounters {
  /** Requests with a wrong key, answered at once / held back first. */
  readonly failedAtOnce: number;
  readonly failedDelayed: number;
}

export class AdminAuth {
  #keys: readonly { key: AdminKey; digest: Buffer }[] = [];
  readonly #failures = new Map<string, Failures>();
  #waiting = 0;
  #atOnce = 0;
  #delayed = 0;
  readonly #now: () => number;

  constructor(keys: readonly AdminKey[], now: () => number = () => performance.now()) {
    this.setKeys(keys);
    this.#now = now;
  }

  setKeys(keys: readonly AdminKey[]): void {
    this.#keys = keys.map((key) => ({ key, digest: digest(key.key) }));
  }

  /** The configured key equal to `token`, compared in constant time over every key. */
  find(token: string): AdminKey | undefined {
    const d = digest(token);
    let found: AdminKey | undefined;
    for (const k of this.#keys) if (timingSafeEqual(k.digest, d) && found === undefined) found = k.key;
    return found;
  }

  /** A good key from `addr`: its wrong-key count is forgotten. */
  succeeded(addr: string): void {
    this.#failures.delete(addr);
  }

  /** A wrong key from `addr`: how long its 401 waits (ms, 0 = at once). Call done() when a waited answer left. */
  failed(addr: string): number {
    const now = this.#now();
    let f = this.#failures.get(addr);
    if (f === undefined || now - f.last > WINDOW_MS) {
      f = { count: 0, last: now };
    }
    this.#failures.delete(addr); // re-inserted last: the Map's order is the order of last failure
    f.count++;
    f.last = now;
    this.#failures.set(addr, f);
    if (this.#failures.size > TABLE_CAP) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
    if (f.count <= FREE_FAILURES || this.#waiting >= WAITING_CAP) {
      this.#atOnce++;
      return 0;
    }
    this.#delayed++;
    this.#waiting++;
    return Math.min(BASE_MS * 2 ** (f.count - FREE_FAILURES - 1), MAX_MS);
  }

  /** A held-back answer has been sent. */
  done(): void {
    this.#waiting--;
  }

  /** Addresses with a wrong-key count (bounded by TABLE_CAP). */
  get tracked(): number {
    return this.#failures.size;
  }

  counters(): AuthCounters {
    return { failedAtOnce: this.#atOnce, failedDelayed: this.#delayed };
  }
}
