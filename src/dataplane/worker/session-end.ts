// One end path for every session, TCP or UDP: the end-reason counters, the metrics, then the record for the access
// log and the plugins' cleanups and log hooks. The record is built only when something reads it (building it for
// nothing costs every connection); UDP builds its own (udp/proxy.ts), from the same record shape (session/record.ts).
import { AccessLog, recordVariable, type AccessLogConf, type AccessRecord } from '../../observe/access-log.ts';
import type { EndReason } from '../session/end.ts';
import { sessionStatus, tcpRecord } from '../session/record.ts';
import type { Session } from '../session/session.ts';
import { runEnd, type PluginRun } from '../phases/plugins.ts';
import type { WorkerPluginEnv } from '../plugin-env.ts';
import type { SessionEnded, WorkerMetrics } from '../state/metrics.ts';
import type { WorkerStats } from '../state/stats.ts';

/** An ended session as the counters read it, with its end reason typed (stats count by reason). */
type Ended = SessionEnded & { readonly reason: EndReason };

export class SessionEnds {
  #accessLog: AccessLog;
  readonly #stats: WorkerStats;
  readonly #metrics: WorkerMetrics;
  readonly #plugins: WorkerPluginEnv;
  constructor(accessLog: AccessLogConf, stats: WorkerStats, metrics: WorkerMetrics, plugins: WorkerPluginEnv) {
    this.#accessLog = new AccessLog(accessLog);
    this.#stats = stats;
    this.#metrics = metrics;
    this.#plugins = plugins;
  }

  /** A SIGHUP's access-log settings: a changed log is reopened (the old one flushes and closes). */
  setAccessLog(conf: AccessLogConf): void {
    if (JSON.stringify(conf) === JSON.stringify(this.#accessLog.conf)) return;
    this.#accessLog.close();
    this.#accessLog = new AccessLog(conf);
  }

  flush(): void {
    this.#accessLog.flushSync();
  }

  /** A TCP session ended (the pipeline or the native relay): `now` in performance.now() ms. */
  tcp(s: Session, reason: EndReason, now: number): void {
    this.#metrics.closed(s.listener.addr);
    this.#end({
      listener: s.listener.addr, status: sessionStatus(s, reason), node: s.node?.addr, route: s.route?.id, reason, protocol: 'tcp',
      toClient: s.bytesToClient, fromClient: s.bytesFromClient,
    }, s.plugins, () => tcpRecord(s, reason, now));
  }

  /** A UDP session ended, or was refused by a plugin before it opened. */
  udp(rec: AccessRecord, run: PluginRun | undefined, listener: string): void {
    this.#stats.udpSessions++;
    this.#end({
      listener, status: rec.status, node: rec.upstreamAddr, route: rec.routeId, reason: rec.endReason as EndReason, protocol: 'udp',
      toClient: rec.bytesSent, fromClient: rec.bytesReceived,
    }, run, () => rec);
  }

  #end(e: Ended, run: PluginRun | undefined, record: () => AccessRecord): void {
    this.#stats.byReason[e.reason]++;
    this.#metrics.ended(e);
    if (!this.#accessLog.conf.enabled && run === undefined) return;
    const rec = record();
    this.#accessLog.log(rec);
    if (run !== undefined) runEnd(run, { record: rec, variable: (name) => recordVariable(rec, name) }, this.#plugins);
  }
}
