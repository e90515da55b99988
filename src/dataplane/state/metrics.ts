// A worker's metric counters (CONTRACT §5), bumped on the hot path as plain numbers in maps and sent to the primary
// at scrape time, which sums every worker's (process/metrics.ts). Label sets are bounded: past LABEL_CAP distinct
// keys a family stops adding new ones and counts what it could not label (so memory stays bounded whatever clients
// and routes do).
import type { WorkerMetricsSnapshot } from '../../model/messages.ts';

export const LABEL_CAP = 10_000;
/** Upstream connect time buckets, seconds. */
export const CONNECT_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const SEP = '\u0000';

/**
 * A counter family with three labels, as nested maps: the hot path looks up label values it already holds (listener,
 * node address, route id) and builds no key string per session; the SEP-joined keys are made at scrape time only.
 * At most LABEL_CAP label sets; past it a new set is not recorded and `cap.over` counts it.
 */
class Counter3 {
  readonly #m = new Map<string, Map<string, Map<string | number, number>>>();
  #size = 0;
  readonly #cap: { over: number };

  constructor(cap: { over: number }) {
    this.#cap = cap;
  }

  add(a: string, b: string, c: string | number, by: number): void {
    const mc = this.#m.get(a)?.get(b);
    const v = mc?.get(c);
    if (v !== undefined) { (mc as Map<string | number, number>).set(c, v + by); return; }
    if (this.#size >= LABEL_CAP) { this.#cap.over++; return; }
    this.#size++;
    if (mc !== undefined) { mc.set(c, by); return; }
    let mb = this.#m.get(a);
    if (mb === undefined) this.#m.set(a, (mb = new Map<string, Map<string | number, number>>()));
    mb.set(b, new Map<string | number, number>([[c, by]]));
  }

  /** `order` maps the stored (a, b, c) to the label order of the exported key. */
  entries(order: (a: string, b: string, c: string) => string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [a, mb] of this.#m) for (const [b, mc] of mb) for (const [c, v] of mc) out[order(a, b, String(c))] = v;
    return out;
  }
}

function bump(m: Map<string, number>, key: string, by: number, cap: { over: number }): void {
  const v = m.get(key);
  if (v !== undefined) m.set(key, v + by);
  else if (m.size < LABEL_CAP) m.set(key, by);
  else cap.over++;
}

/** What the counters read of an ended session, TCP or UDP. */
export interface SessionEnded {
  readonly listener: string;
  readonly status: number;
  readonly node: string | undefined;
  readonly route: string | undefined;
  readonly reason: string;
  readonly protocol: 'tcp' | 'udp';
  readonly toClient: number;
  readonly fromClient: number;
}

export class WorkerMetrics {
  readonly #cap = { over: 0 };
  /** listener → node → status */
  readonly #status = new Counter3(this.#cap);
  /** route → reason → protocol */
  readonly #sessions = new Counter3(this.#cap);
  readonly #bytesIn = new Map<string, number>();
  readonly #bytesOut = new Map<string, number>();
  readonly #active = new Map<string, number>();
  readonly #connect = new Array<number>(CONNECT_BOUNDS.length + 1).fill(0);
  #connectSum = 0;
  #connectCount = 0;
  tlsOk = 0;
  tlsFailed = 0;

  opened(listener: string): void {
    this.#active.set(listener, (this.#active.get(listener) ?? 0) + 1);
  }

  closed(listener: string): void {
    this.#active.set(listener, (this.#active.get(listener) ?? 1) - 1);
  }

  /** One ended session (a TCP session without access log or plugins builds no record: these are its fields). */
  ended(e: SessionEnded): void {
    this.#status.add(e.listener, e.node ?? '', e.status, 1);
    this.#sessions.add(e.route ?? '', e.reason, e.protocol, 1);
    if (e.fromClient > 0) bump(this.#bytesIn, e.listener, e.fromClient, this.#cap);
    if (e.toClient > 0) bump(this.#bytesOut, e.listener, e.toClient, this.#cap);
  }

  connected(ms: number): void {
    const s = ms / 1000;
    let i = 0;
    while (i < CONNECT_BOUNDS.length && s > (CONNECT_BOUNDS[i] as number)) i++;
    this.#connect[i] = (this.#connect[i] as number) + 1;
    this.#connectSum += s;
    this.#connectCount++;
  }

  snapshot(extra: Pick<WorkerMetricsSnapshot, 'connectionTotal' | 'refusals' | 'udpActive' | 'syslogDropped' | 'udpByListener'>): WorkerMetricsSnapshot {
    return {
      ...extra,
      status: this.#status.entries((listener, node, code) => `${code}${SEP}${listener}${SEP}${node}`),
      sessions: this.#sessions.entries((route, reason, protocol) => `${reason}${SEP}${route}${SEP}${protocol}`),
      bytesFromClients: Object.fromEntries(this.#bytesIn),
      bytesToClients: Object.fromEntries(this.#bytesOut),
      activeByListener: Object.fromEntries(this.#active),
      connect: { counts: [...this.#connect], sum: this.#connectSum, count: this.#connectCount },
      tls: { ok: this.tlsOk, failed: this.tlsFailed },
      unlabelled: this.#cap.over,
    };
  }
}

export const LABEL_SEP = SEP;
