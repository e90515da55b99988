// What stream plugins use in a worker besides their conf (plugins/plugin.ts PluginEnv): the gateway-wide counts,
// the counters they bump, plugin_metadata in force, and long-lived resources (a syslog sender) that outlive
// snapshots while their key stays the same. Resources no snapshot asked for are closed after each compile
// (mark and sweep), so a removed syslog conf does not leave its connection open.
import type { SharedCounts } from '../lib/shared-counts.ts';
import type { Logger } from '../observe/log.ts';
import type { PluginCounters, PluginEnv } from '../plugins/plugin.ts';

export class WorkerPluginEnv implements PluginEnv {
  readonly log: Logger;
  readonly workerId: number;
  readonly counts: SharedCounts;
  readonly counters: PluginCounters = { connectionTotal: new Map(), refusals: new Map(), limitTableFull: 0 };
  #metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {};
  #trustedCa: string | undefined;
  readonly #resources = new Map<string, { close(): void }>();
  #used = new Set<string>();

  constructor(log: Logger, workerId: number, counts: SharedCounts) {
    this.log = log;
    this.workerId = workerId;
    this.counts = counts;
  }

  metadata(name: string): Readonly<Record<string, unknown>> | undefined {
    return this.#metadata[name];
  }

  trustedCa(): string | undefined {
    return this.#trustedCa;
  }

  resource<T extends { close(): void }>(key: string, make: () => T): T {
    this.#used.add(key);
    let r = this.#resources.get(key);
    if (r === undefined) {
      r = make();
      this.#resources.set(key, r);
    }
    return r as T;
  }

  /** Every resource currently open (syslog senders, for their counters). */
  resources(): IterableIterator<{ close(): void }> {
    return this.#resources.values();
  }

  beginCompile(metadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>, trustedCa: string | undefined): void {
    this.#metadata = metadata;
    this.#trustedCa = trustedCa;
    this.#used = new Set();
  }

  endCompile(): void {
    for (const [k, r] of this.#resources) {
      if (this.#used.has(k)) continue;
      this.#resources.delete(k);
      try { r.close(); } catch (err) { this.log.warn({ err }, 'closing a plugin resource failed'); }
    }
  }

  close(): void {
    this.#used = new Set();
    this.endCompile();
  }
}
