// plugin_attr.prometheus.enable_export_server: false — the metrics are served at export_uri on the admin listener
// instead of a listener of their own (APISIX then serves them on its data-plane port), with the Admin API's keys
// (Prometheus sends one with `params: { api_key: [...] }`).
import type { ExtraRoute } from '../controlplane/admin/routes.ts';
import type { GatewayMetrics } from '../observe/metrics.ts';
import { renderMetrics } from '../observe/prometheus-exporter.ts';

export function metricsRoute(uri: string, prefix: string, collect: () => Promise<GatewayMetrics>): ExtraRoute {
  return {
    method: 'GET',
    path: uri,
    async handle() {
      return { status: 200, body: await renderMetrics(await collect(), { prefix }), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
    },
  };
}
