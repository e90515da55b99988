// What the in-process Sluice benches share: a gateway on a temp prefix with one TCP listener on port 0, upstreams
// that answer with their name, a one-shot client, percentiles. Measurement helpers, not tests.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/controlplane/config/load.ts';
import type { ListenerSpec } from '../src/model/config.ts';
import { silentLogger } from '../src/observe/log.ts';
import { startGateway, type Gateway } from '../src/process/gateway.ts';

export const KEY = 'bench-key-0123456789abcdef';

export interface BenchGateway {
  readonly gw: Gateway;
  /** The bound port of the bench listener (127.0.0.1, port 0). */
  readonly port: number;
  /** Admin API URL of stream route 1. */
  readonly routeUrl: string;
  close(): Promise<void>;
}

/** A gateway with `workers` workers; `deployment` is extra YAML under `deployment:` (e.g. the etcd provider). */
export async function benchGateway(workers: number, deployment = ''): Promise<BenchGateway> {
  const prefix = mkdtempSync(path.join(tmpdir(), 'sluice-bench-'));
  mkdirSync(path.join(prefix, 'conf'));
  writeFileSync(path.join(prefix, 'conf', 'config.yaml'), `apisix:
  proxy_mode: stream
  stream_proxy: { tcp: [] }
  enable_control: false
deployment:
${deployment}  admin:
    admin_key: [{ name: admin, key: ${KEY}, role: admin }]
    admin_listen: { ip: 127.0.0.1, port: 0 }
sluice: { workers: ${workers} }
`);
  const listener: ListenerSpec = {
    proto: 'tcp', host: '127.0.0.1', port: 0, tls: false, proxyProtocol: false, proxyProtocolToUpstream: false,
    proxyProtocolToUpstreamVersion: 1, source: 'bench',
  };
  const base = loadConfig({ prefix });
  const gw = await startGateway({ loaded: { ...base, listeners: [listener] }, log: silentLogger() });
  return {
    gw,
    port: gw.port('tcp', '127.0.0.1', 0, 'bench'),
    routeUrl: `http://127.0.0.1:${gw.admin?.port ?? 0}/apisix/admin/stream_routes/1`,
    async close() {
      await gw.close();
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** PUTs stream route 1 to one node; resolves with the HTTP status. */
export async function putRoute(url: string, nodePort: number): Promise<number> {
  const res = await fetch(url, { method: 'PUT', headers: { 'X-API-KEY': KEY }, body: JSON.stringify({ upstream: { nodes: { [`127.0.0.1:${nodePort}`]: 1 } } }) });
  await res.text();
  return res.status;
}

/** An upstream that writes its name and closes. */
export async function namedServer(name: string): Promise<{ port: number; close(): void }> {
  const s: Server = createServer((c) => { c.on('error', () => {}); c.end(name); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as AddressInfo).port, close: () => s.close() };
}

/** Everything a new connection to `port` receives until it closes. */
export function firstBytes(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('close', () => resolve(got));
    c.on('error', () => resolve(got));
  });
}

export const pct = (xs: readonly number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

/** `p50=… p99=… max=…` in ms with `digits` decimals. */
export const fmt = (xs: readonly number[], digits = 2): string =>
  `p50=${pct(xs, 0.5).toFixed(digits)}ms p99=${pct(xs, 0.99).toFixed(digits)}ms max=${Math.max(...xs).toFixed(digits)}ms`;
