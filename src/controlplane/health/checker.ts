// Health of the nodes of one upstream, APISIX's `checks` semantics (lua-resty-healthcheck):
// - a healthy node becomes unhealthy after `unhealthy.tcp_failures` connect failures, `timeouts` timeouts or
//   `http_failures` bad statuses in a row (counted per kind; a success resets them), mostly_healthy in between;
// - an unhealthy node becomes healthy after `healthy.successes` successes in a row (a failure resets them),
//   mostly_unhealthy in between; a threshold of 0 turns that counter off (see record());
// - active probes run every `healthy.interval` s while healthy, `unhealthy.interval` s while not; passive results
//   (connect outcomes reported by the data plane) count with the `passive` thresholds.
// Statuses as the Control API shows them: healthy | unhealthy | mostly_healthy | mostly_unhealthy.
// The checker runs once per gateway (in the primary), starts when its upstream enters the config, and writes the
// verdict into the shared node table that the pickers read.
import { hostPort } from '../../lib/addr.ts';
import type { NodeTable } from '../../lib/node-table.ts';
import type { NodeConf, UpstreamConf } from '../../model/snapshot.ts';
import type { Logger } from '../../observe/log.ts';
import { httpProbe, tcpProbe, udpProbe, type ProbeResult } from './probes.ts';

type Obj = Readonly<Record<string, unknown>>;
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : d);
const nums = (v: unknown, d: readonly number[]): readonly number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : d);

export interface Thresholds {
  readonly successes: number;
  readonly tcpFailures: number;
  readonly timeouts: number;
  readonly httpFailures: number;
}

export interface CheckSpec {
  readonly type: 'tcp' | 'http' | 'https' | 'udp';
  readonly timeoutMs: number;
  readonly healthyIntervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly port: number | undefined;
  readonly active: Thresholds;
  readonly passive: Thresholds | undefined;
  readonly http: { path: string; host: string | undefined; headers: readonly string[]; verify: boolean; healthy: readonly number[]; unhealthy: readonly number[] };
  readonly udp: { payload: Buffer; expect: Buffer };
}

/** `req_data` / `expected_resp`: `hex:0a0b...` for bytes, anything else as text. */
function bytes(v: unknown): Buffer {
  if (typeof v !== 'string') return Buffer.alloc(0);
  return v.startsWith('hex:') ? Buffer.from(v.slice(4), 'hex') : Buffer.from(v, 'utf8');
}

export function parseChecks(checks: Obj): CheckSpec {
  const a = obj(checks.active);
  const ah = obj(a.healthy);
  const au = obj(a.unhealthy);
  const p = checks.passive === undefined ? undefined : obj(checks.passive);
  const ph = obj(p?.healthy);
  const pu = obj(p?.unhealthy);
  const type = a.type === 'tcp' || a.type === 'https' || a.type === 'udp' ? a.type : 'http';
  return {
    type,
    timeoutMs: num(a.timeout, 1) * 1000,
    healthyIntervalMs: num(ah.interval, 1) * 1000,
    unhealthyIntervalMs: num(au.interval, 1) * 1000,
    port: typeof a.port === 'number' ? a.port : undefined,
    active: { successes: num(ah.successes, 2), tcpFailures: num(au.tcp_failures, 2), timeouts: num(au.timeouts, 3), httpFailures: num(au.http_failures, 5) },
    passive: p === undefined ? undefined : { successes: num(ph.successes, 5), tcpFailures: num(pu.tcp_failures, 2), timeouts: num(pu.timeouts, 7), httpFailures: num(pu.http_failures, 5) },
    http: {
      path: typeof a.http_path === 'string' ? a.http_path : '/',
      host: typeof a.host === 'string' ? a.host : undefined,
      headers: Array.isArray(a.req_headers) ? a.req_headers.filter((h): h is string => typeof h === 'string') : [],
      verify: a.https_verify_certificate !== false,
      healthy: nums(ah.http_statuses, [200, 302]),
      unhealthy: nums(au.http_statuses, [429, 404, 500, 501, 502, 503, 504, 505]),
    },
    udp: { payload: bytes(a.req_data ?? 'ping'), expect: bytes(a.expected_resp ?? '') },
  };
}

export type HealthStatus = 'healthy' | 'unhealthy' | 'mostly_healthy' | 'mostly_unhealthy';

export class NodeHealth {
  readonly node: NodeConf;
  /** lua-resty-healthcheck's internal_health; the `mostly_` states still count as what they are mostly. */
  status: HealthStatus = 'healthy';
  success = 0;
  tcpFailure = 0;
  timeoutFailure = 0;
  httpFailure = 0;
  timer: NodeJS.Timeout | undefined;
  probing = false;
  constructor(node: NodeConf) {
    this.node = node;
  }
  /** Whether traffic may use the node: healthy or mostly_healthy. */
  get healthy(): boolean {
    return this.status === 'healthy' || this.status === 'mostly_healthy';
  }
  get addr(): string {
    return hostPort(this.node.host, this.node.port);
  }
}

export class UpstreamChecker {
  readonly key: string;
  readonly name: string;
  readonly spec: CheckSpec;
  /** Source of the spec and node list; a checker is replaced when it changes. */
  readonly version: string;
  readonly nodes: NodeHealth[];
  readonly #table: NodeTable;
  readonly #log: Logger;
  #stopped = false;

  constructor(up: UpstreamConf, table: NodeTable, log: Logger, carried: ReadonlyMap<number, NodeHealth> = new Map()) {
    this.key = up.key;
    this.name = `/apisix/${up.key}`;
    this.spec = parseChecks(up.checks ?? {});
    this.version = JSON.stringify([up.checks, up.nodes]);
    this.#table = table;
    this.#log = log;
    this.nodes = up.nodes.map((n) => {
      const prev = carried.get(n.slot);
      const h = new NodeHealth(n);
      if (prev !== undefined) {
        h.status = prev.status;
        h.success = prev.success;
        h.tcpFailure = prev.tcpFailure;
        h.timeoutFailure = prev.timeoutFailure;
        h.httpFailure = prev.httpFailure;
      }
      table.setHealthy(n.slot, h.healthy);
      return h;
    });
  }

  start(): void {
    for (const h of this.nodes) this.#schedule(h, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const h of this.nodes) if (h.timer !== undefined) clearTimeout(h.timer);
  }

  #schedule(h: NodeHealth, delayMs: number): void {
    if (this.#stopped) return;
    h.timer = setTimeout(() => {
      this.#probe(h).catch((err: unknown) => this.#log.error({ err, node: h.addr }, 'health probe threw'));
    }, delayMs);
    h.timer.unref();
  }

  async #probe(h: NodeHealth): Promise<void> {
    if (this.#stopped || h.probing) return;
    h.probing = true;
    const s = this.spec;
    const ip = h.node.ip;
    const port = s.port ?? h.node.port;
    let r: ProbeResult | undefined;
    if (ip === undefined) r = { kind: 'tcp_failure', why: `${h.node.host} does not resolve` };
    else if (s.type === 'tcp') r = await tcpProbe(ip, port, s.timeoutMs);
    else if (s.type === 'udp') r = await udpProbe(ip, port, s.timeoutMs, s.udp.payload, s.udp.expect);
    else {
      r = await httpProbe(ip, port, s.timeoutMs, {
        https: s.type === 'https', path: s.http.path, host: s.http.host, headers: s.http.headers, verify: s.http.verify,
        healthyStatuses: s.http.healthy, unhealthyStatuses: s.http.unhealthy,
      });
      // A status in neither list counts for nothing (lua-resty-healthcheck's report_http_status returns without
      // counting): not a failure, and not a success either (it must not bring an unhealthy node back).
      if (r.kind === 'http_failure' && r.status !== 0 && !s.http.unhealthy.includes(r.status)) r = undefined;
    }
    h.probing = false;
    if (this.#stopped) return;
    if (r !== undefined) this.record(h, r, s.active, 'active');
    this.#schedule(h, h.healthy ? s.healthyIntervalMs : s.unhealthyIntervalMs);
  }

  /**
   * Counts one result as lua-resty-healthcheck's incr_counter does: a threshold of 0 disables that counter; a success
   * on a healthy node and a failure on an unhealthy one count for nothing; otherwise the counter goes up (a success
   * clears the failure counters, a failure clears the success counter) and the node moves to the reported state at
   * the threshold, or else to mostly_healthy / mostly_unhealthy. Counters are not cleared by a move (APISIX shows
   * `unhealthy` with `tcp_failure: 2`). A change of usability is logged with the reason and written to the table.
   */
  record(h: NodeHealth, r: ProbeResult, t: Thresholds, source: 'active' | 'passive'): void {
    let count: number;
    let limit: number;
    const report = r.kind === 'success' ? 'healthy' : 'unhealthy';
    if (r.kind === 'success') limit = t.successes;
    else if (r.kind === 'tcp_failure') limit = t.tcpFailures;
    else if (r.kind === 'timeout') limit = t.timeouts;
    else limit = t.httpFailures;
    if (limit <= 0 || h.status === report) return;
    if (r.kind === 'success') {
      count = ++h.success;
      h.tcpFailure = 0;
      h.timeoutFailure = 0;
      h.httpFailure = 0;
    } else {
      if (r.kind === 'tcp_failure') count = ++h.tcpFailure;
      else if (r.kind === 'timeout') count = ++h.timeoutFailure;
      else count = ++h.httpFailure;
      h.success = 0;
    }
    let next: HealthStatus | undefined;
    if (count >= limit) next = report;
    else if (h.status === 'healthy' && report === 'unhealthy') next = 'mostly_healthy';
    else if (h.status === 'unhealthy' && report === 'healthy') next = 'mostly_unhealthy';
    if (next === undefined || next === h.status) return;
    const was = h.healthy;
    h.status = next;
    if (h.healthy === was) return;
    this.#table.setHealthy(h.node.slot, h.healthy);
    const why = r.kind === 'success' ? `${count} ${source} successes` : `${count} ${source} ${r.kind.replace('_', ' ')}s, last: ${r.why}`;
    this.#log.warn({ upstream: this.name, node: h.addr, reason: why }, `upstream node is now ${h.healthy ? 'healthy' : 'unhealthy'}`);
  }
}
