// The Control API (apisix.control, default 127.0.0.1:9090): health checker state in APISIX's shape.
//   GET /v1/healthcheck                       every checker
//   GET /v1/healthcheck/stream_routes/{id}    the checker of a stream route's upstream
//   GET /v1/healthcheck/upstreams/{id}        the checker of an upstream
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { UpstreamChecker } from './checker.ts';
import type { HealthManager } from './manager.ts';

function render(c: UpstreamChecker): unknown {
  return {
    name: c.name,
    type: c.spec.type,
    nodes: c.nodes.map((h) => ({
      ip: h.node.ip ?? h.node.host,
      port: h.node.port,
      hostname: h.node.host,
      status: h.status,
      counter: { success: h.success, tcp_failure: h.tcpFailure, timeout_failure: h.timeoutFailure, http_failure: h.httpFailure },
    })),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), Server: 'sluice' });
  res.end(text);
}

export interface ControlApi {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export async function startControlApi(health: HealthManager, host: string, port: number): Promise<ControlApi> {
  const server = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://control');
    const segs = url.pathname.split('/').filter((s) => s !== '');
    if (req.method !== 'GET' || segs[0] !== 'v1' || segs[1] !== 'healthcheck') {
      send(res, 404, { error_msg: 'not found' });
      return;
    }
    if (segs.length === 2) {
      const all = health.checkers().map(render);
      // APISIX renders an empty Lua table, which cjson encodes as {}.
      send(res, 200, all.length === 0 ? {} : all);
      return;
    }
    const [res3, id] = [segs[2], segs[3]];
    if (segs.length !== 4 || id === undefined || (res3 !== 'stream_routes' && res3 !== 'upstreams')) {
      send(res, 400, { error_msg: `invalid src type ${res3 ?? ''}` });
      return;
    }
    const key = res3 === 'upstreams' ? `upstreams/${id}` : health.routeUpstream(id);
    const c = key !== undefined ? health.checker(key) : undefined;
    if (c === undefined) {
      send(res, 404, { error_msg: `no checker for ${res3}[${id}]` });
      return;
    }
    send(res, 200, render(c));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => { server.off('error', reject); resolve(); });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
