// Keys APISIX's schemas accept that mean nothing to an L4 gateway (HTTP-only, or features Sluice does not have).
// Each one is refused with the reason, by the Admin API (400 invalid configuration) and by the snapshot builder for
// items that come from etcd or apisix.yaml (skipped and logged), so no accepted key is silently inert (issue 14).
import { inlineSplitUpstreams } from '../plugin-confs.ts';
import { isJsonObject, type JsonObject } from '../store/store.ts';

type Found = string | undefined;

/** Why an upstream object cannot be served as written, or undefined. */
export function upstreamNotForStreams(up: JsonObject): Found {
  for (const k of ['discovery_type', 'service_name', 'discovery_args']) {
    if (up[k] !== undefined) return `${k}: service discovery is not supported by Sluice; list the nodes (domain names in nodes are resolved)`;
  }
  if (up.pass_host !== undefined && up.pass_host !== 'pass') return `pass_host ${JSON.stringify(up.pass_host)}: it rewrites the HTTP Host header, which stream upstreams do not have`;
  if (up.upstream_host !== undefined) return 'upstream_host: it sets the HTTP Host header, which stream upstreams do not have';
  if (up.keepalive_pool !== undefined) return 'keepalive_pool: upstream connection pools are HTTP-only; a stream session owns its upstream connection';
  if (up.scheme === 'grpc' || up.scheme === 'grpcs' || up.scheme === 'kafka') return `scheme "${up.scheme}" is for HTTP routes; a stream upstream is tcp (http), tls (https) or udp`;
  return undefined;
}

/** Why a service cannot be used by stream routes as written, or undefined. */
export function serviceNotForStreams(svc: JsonObject): Found {
  for (const k of ['script', 'enable_websocket', 'hosts']) {
    if (svc[k] !== undefined) return `${k}: applies to HTTP routes only; not supported on services for stream routes`;
  }
  return upstreamsOf(svc);
}

/** The first refusal among an item's inline upstreams: its own, and traffic-split's. */
function upstreamsOf(item: JsonObject): Found {
  if (isJsonObject(item.upstream)) {
    const f = upstreamNotForStreams(item.upstream);
    if (f !== undefined) return f;
  }
  for (const [, up] of inlineSplitUpstreams(item.plugins)) {
    const f = upstreamNotForStreams(up);
    if (f !== undefined) return `plugins.traffic-split: ${f}`;
  }
  return undefined;
}

/** Why a stream route cannot be served as written, or undefined (its inline upstream included). */
export function routeNotForStreams(route: JsonObject): Found {
  const p = route.protocol;
  // APISIX's xRPC: Sluice implements no xRPC protocol (the Admin API answers "unknown protocol [name]")
  if (isJsonObject(p)) return `protocol: unknown protocol [${typeof p.name === 'string' ? p.name : '?'}] (Sluice implements no xRPC protocol)`;
  return upstreamsOf(route);
}

/** Why an SSL object cannot be served as written, or undefined. */
export function sslNotForStreams(ssl: JsonObject): Found {
  if (isJsonObject(ssl.client) && ssl.client.skip_mtls_uri_regex !== undefined) return 'client.skip_mtls_uri_regex: it matches HTTP request URIs; a stream session has none';
  return undefined;
}
