// Gateway-wide counts per string key (limit-conn's concurrent sessions), in one SharedArrayBuffer that every worker
// thread and the primary map. Bounded: a fixed number of slots, open addressing with a bounded probe; a key whose
// count fell to 0 keeps its slot until another key needs it (eviction of idle keys, counted). Each slot also holds
// every worker's own share of its count, so that when a worker dies the primary takes that worker's sessions out of
// every key (`releaseWorker`) — a count drops however its sessions end, a crash included.
// Keys are stored as two independent 32-bit hashes (64 bits; a false match needs ~2^32 live keys). The operations
// are a few probes under one spin lock (Atomics), far shorter than any syscall; no allocation per call.

const HEADER = 8;
const LOCK = 0;
const EVICTIONS = 1;
const FULL = 2;
/** Probes before a key is declared not placeable (the table is then "full" around its hash). */
const PROBES = 32;
const SPIN_LIMIT = 1 << 22;

export const DEFAULT_COUNT_SLOTS = 16_384;

/** Bytes for a table of `slots` keys shared by `workers` workers. */
export function sharedCountsBytes(slots: number, workers: number): number {
  return (HEADER + slots * (3 + workers)) * 4;
}

export type Incoming =
  /** Admitted: the key's count including this session. */
  | { readonly ok: true; readonly count: number }
  /** Over `max`: nothing was counted. */
  | { readonly ok: false; readonly why: 'rejected' | 'table_full' };

function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // murmur3's finaliser spreads the low bits the probe index uses
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export class SharedCounts {
  readonly #a: Int32Array;
  readonly #slots: number;
  readonly #workers: number;
  readonly #stride: number;

  constructor(buf: SharedArrayBuffer, workers: number) {
    this.#a = new Int32Array(buf);
    this.#workers = workers;
    this.#stride = 3 + workers;
    this.#slots = Math.floor((this.#a.length - HEADER) / this.#stride);
    if (this.#slots < 1) throw new Error('shared counts buffer too small');
  }

  static create(slots: number, workers: number): SharedArrayBuffer {
    return new SharedArrayBuffer(sharedCountsBytes(slots, workers));
  }

  get evictions(): number {
    return Atomics.load(this.#a, EVICTIONS);
  }

  get fullEvents(): number {
    return Atomics.load(this.#a, FULL);
  }

  #lock(): void {
    for (let i = 0; Atomics.compareExchange(this.#a, LOCK, 0, 1) !== 0; i++) {
      // A holder that vanished mid-operation (a terminated thread) must not stop the gateway: take the lock over.
      if (i > SPIN_LIMIT) {
        Atomics.store(this.#a, LOCK, 1);
        return;
      }
    }
  }

  #unlock(): void {
    Atomics.store(this.#a, LOCK, 0);
  }

  /** The slot base index holding `key`, or (with `claim`) a slot claimed for it; -1 when none. */
  #find(h1: number, h2: number, claim: boolean): number {
    const a = this.#a;
    let idle = -1;
    const start = (h1 >>> 0) % this.#slots;
    for (let p = 0; p < PROBES && p < this.#slots; p++) {
      const base = HEADER + ((start + p) % this.#slots) * this.#stride;
      const k1 = a[base] as number;
      const k2 = a[base + 1] as number;
      if (k1 === h1 && k2 === h2) return base;
      if (k1 === 0 && k2 === 0) {
        // never used: the key is not further along its probe sequence
        if (!claim) return -1;
        if (idle < 0) idle = base;
        break;
      }
      if (idle < 0 && a[base + 2] === 0) idle = base;
    }
    if (!claim || idle < 0) return -1;
    if (a[idle] !== 0 || a[idle + 1] !== 0) a[EVICTIONS] = (a[EVICTIONS] as number) + 1;
    a[idle] = h1;
    a[idle + 1] = h2;
    a[idle + 2] = 0;
    for (let w = 0; w < this.#workers; w++) a[idle + 3 + w] = 0;
    return idle;
  }

  static hash(key: string): [number, number] {
    const h1 = fnv1a(key, 0x811c9dc5) | 1; // never 0: (0, 0) marks an unused slot
    return [h1, fnv1a(key, 0x9747b28c)];
  }

  /** Counts one more session of `key` for `worker` if the count stays <= max. */
  incoming(key: string, max: number, worker: number): Incoming {
    const [h1, h2] = SharedCounts.hash(key);
    this.#lock();
    try {
      const base = this.#find(h1, h2, true);
      if (base < 0) {
        Atomics.add(this.#a, FULL, 1);
        return { ok: false, why: 'table_full' };
      }
      const a = this.#a;
      const now = (a[base + 2] as number) + 1;
      if (now > max) return { ok: false, why: 'rejected' };
      a[base + 2] = now;
      a[base + 3 + worker] = (a[base + 3 + worker] as number) + 1;
      return { ok: true, count: now };
    } finally {
      this.#unlock();
    }
  }

  /** One session of `key` counted by `worker` ended. */
  leaving(key: string, worker: number): void {
    const [h1, h2] = SharedCounts.hash(key);
    this.#lock();
    try {
      const base = this.#find(h1, h2, false);
      if (base < 0) return;
      const a = this.#a;
      if ((a[base + 3 + worker] as number) > 0) {
        a[base + 3 + worker] = (a[base + 3 + worker] as number) - 1;
        a[base + 2] = Math.max(0, (a[base + 2] as number) - 1);
      }
    } finally {
      this.#unlock();
    }
  }

  /** The current count of `key` (0 when unknown). */
  count(key: string): number {
    const [h1, h2] = SharedCounts.hash(key);
    this.#lock();
    try {
      const base = this.#find(h1, h2, false);
      return base < 0 ? 0 : (this.#a[base + 2] as number);
    } finally {
      this.#unlock();
    }
  }

  /** A dead worker's sessions leave every key; returns how many there were. */
  releaseWorker(worker: number): number {
    const a = this.#a;
    let n = 0;
    this.#lock();
    try {
      for (let i = 0; i < this.#slots; i++) {
        const base = HEADER + i * this.#stride;
        const mine = a[base + 3 + worker] as number;
        if (mine === 0) continue;
        n += mine;
        a[base + 3 + worker] = 0;
        a[base + 2] = Math.max(0, (a[base + 2] as number) - mine);
      }
    } finally {
      this.#unlock();
    }
    return n;
  }
}
