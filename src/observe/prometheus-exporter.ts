// The Prometheus exporter (CONTRACT §5): GatewayMetrics → exposition format 0.0.4, served over HTTP at export_uri.
// prom-client does the text (HELP/TYPE lines, label escaping, number formatting). Its Counter/Gauge/Histogram classes
// keep values of their own and cannot take a histogram's pre-bucketed counts, so every family is a small metric object
// whose get() reads the scrape's numbers — the shape prom-client's Registry formats (registry.js getMetricsAsString).
//
// Values are live: each scrape collects from the workers, unless refreshMs > 0 asks for a cached answer (APISIX's
// refresh_interval). One collect runs at a time and concurrent scrapes share it; one that outlasts COLLECT_TIMEOUT_MS
// answers 503.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Registry, type Metric } from 'prom-client';
import type { Logger } from './log.ts';
import { familyName, METRIC_FAMILIES, type GatewayMetrics } from './metrics.ts';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
const COLLECT_TIMEOUT_MS = 5000;
/** Scrapes served at once; beyond it a scrape gets 503 (a runaway scraper cannot pile up work). */
const MAX_IN_FLIGHT = 32;

export async function renderMetrics(m: GatewayMetrics, opts: { prefix: string }): Promise<string> {
  const registry = new Registry();
  for (const f of METRIC_FAMILIES) {
    const name = familyName(f, opts.prefix);
    const metric = {
      name,
      help: f.help,
      type: f.type,
      aggregator: 'sum',
      get: () => ({
        name, help: f.help, type: f.type, aggregator: 'sum',
        values: f.samples(m).map((s) => ({ metricName: s.suffix === undefined ? name : name + s.suffix, labels: s.labels, value: s.value })),
      }),
    };
    // The Registry reads name/help/type and calls get(); the typings only admit prom-client's own classes.
    registry.registerMetric(metric as unknown as Metric);
  }
  return registry.metrics();
}

export interface ExporterOptions {
  readonly host: string;
  readonly port: number;
  readonly uri: string;
  readonly prefix: string;
  /** 0: collect on every scrape; > 0: answer from a copy at most this old. */
  readonly refreshMs: number;
  readonly collect: () => Promise<GatewayMetrics>;
  readonly log: Logger;
}

export interface Exporter {
  readonly port: number;
  close(): Promise<void>;
}

type Scrape = { ok: true; text: string } | { ok: false; status: 500 | 503; reason: string };

export function scraper(opts: Pick<ExporterOptions, 'prefix' | 'refreshMs' | 'collect' | 'log'>, now: () => number = Date.now): () => Promise<Scrape> {
  let inFlight: Promise<Scrape> | undefined;
  let cached: { at: number; text: string } | undefined;
  const once = async (): Promise<Scrape> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Scrape>((resolve) => {
      timer = setTimeout(() => { resolve({ ok: false, status: 503, reason: 'collecting the metrics timed out' }); }, COLLECT_TIMEOUT_MS);
    });
    const work = (async (): Promise<Scrape> => {
      try {
        const text = await renderMetrics(await opts.collect(), { prefix: opts.prefix });
        cached = { at: now(), text };
        return { ok: true, text };
      } catch (err) {
        opts.log.error({ err }, 'prometheus: collecting the metrics failed');
        return { ok: false, status: 500, reason: 'collecting the metrics failed' };
      }
    })();
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    if (opts.refreshMs > 0 && cached !== undefined && now() - cached.at < opts.refreshMs) return Promise.resolve({ ok: true, text: cached.text });
    inFlight ??= once().finally(() => { inFlight = undefined; });
    return inFlight;
  };
}

export async function startMetricsExporter(opts: ExporterOptions): Promise<Exporter> {
  const scrape = scraper(opts);
  let active = 0;
  const answer = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5000, maxHeaderSize: 16 * 1024 }, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== opts.uri) { answer(res, 404, 'not found\n'); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.setHeader('allow', 'GET, HEAD'); answer(res, 405, 'method not allowed\n'); return; }
    if (active >= MAX_IN_FLIGHT) { answer(res, 503, 'too many scrapes at once\n'); return; }
    active++;
    void scrape().then((r) => {
      if (r.ok) answer(res, 200, r.text, CONTENT_TYPE);
      else answer(res, r.status, r.reason + '\n');
    }).finally(() => { active--; });
  });
  server.maxConnections = 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => { resolve(); });
      server.closeAllConnections();
    }),
  };
}
