// A worker's metric counters (CONTRACT §5), bumped on the hot path as plain numbers in maps and sent to the primary
// at scrape time, which sums every worker's (process/metrics.ts). Label sets are bounded: past LABEL_CAP distinct
// keys a family stops adding new ones and counts what it could not label (so memory stays bounded whatever clients
// and routes do).
import type { WorkerMetricsSnapshot } from '../../model/messages.ts';
import type { AccessRecord } from '../../observe/access-log.ts';

export const LABEL_CAP = 10_000;
/** Upstream connect time buckets, seconds. */
export const CONNECT_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const SEP = '\u0000';

function bump(m: Map<string, number>, key: string, by: number, cap: { over: number }): void {
  const v = m.get(key);
  if (v !== undefined) m.set(key, v + by);
  else if (m.size < LABEL_CAP) m.set(key, by);
  else cap.over++;
}

export class WorkerMetrics {
  readonly #status = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  readonly #bytesIn = new Map<string, number>();
  readonly #bytesOut = new Map<string, number>();
  readonly #active = new Map<string, number>();
  readonly #connect = new Array<number>(CONNECT_BOUNDS.length + 1).fill(0);
  #connectSum = 0;
  #connectCount = 0;
  tlsOk = 0;
  tlsFailed = 0;
  readonly #cap = { over: 0 };

  opened(listener: string): void {
    this.#active.set(listener, (this.#active.get(listener) ?? 0) + 1);
  }

  closed(listener: string): void {
    this.#active.set(listener, (this.#active.get(listener) ?? 1) - 1);
  }

  ended(r: AccessRecord, listener: string): void {
    bump(this.#status, `${r.status}${SEP}${listener}${SEP}${r.upstreamAddr ?? ''}`, 1, this.#cap);
    bump(this.#sessions, `${r.endReason}${SEP}${r.routeId ?? ''}${SEP}${r.protocol === 'TCP' ? 'tcp' : 'udp'}`, 1, this.#cap);
    if (r.bytesReceived > 0) bump(this.#bytesIn, listener, r.bytesReceived, this.#cap);
    if (r.bytesSent > 0) bump(this.#bytesOut, listener, r.bytesSent, this.#cap);
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
      status: Object.fromEntries(this.#status),
      sessions: Object.fromEntries(this.#sessions),
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
