// The snapshot the control plane sends to every data-plane worker: resolved, validated, plain data (structured-
// cloneable), frozen. Workers compile it once into matchers and balancers (dataplane/runtime.ts). Types only.

export interface NodeConf {
  /** IP address or domain name, as configured (logs, health checks, Control API). */
  readonly host: string;
  /** The address to dial: host itself, or what the domain resolved to; undefined = unresolvable (never picked). */
  readonly ip: string | undefined;
  /** Index into the shared node table (dataplane/state/nodes.ts): gateway-wide connection count and health. */
  readonly slot: number;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
}

export interface TimeoutConf {
  /** Seconds. */
  readonly connect: number;
  readonly send: number;
  readonly read: number;
}

export interface UpstreamConf {
  /** Identity of the resolved upstream: `upstreams/<id>`, `stream_routes/<id>` (inline), `services/<id>` (inline). */
  readonly key: string;
  /** Changes whenever the source object changes: compiled balancers are reused while it stays the same. */
  readonly version: string;
  readonly type: string;
  readonly nodes: readonly NodeConf[];
  readonly scheme: 'tcp' | 'tls' | 'udp';
  readonly hashOn: string;
  readonly hashKey: string | undefined;
  /** Undefined = nodes − 1 (APISIX's default). */
  readonly retries: number | undefined;
  /** Seconds; 0 or undefined = no overall deadline besides the per-attempt connect timeout. */
  readonly retryTimeout: number | undefined;
  readonly timeout: TimeoutConf;
  readonly timeoutSet: boolean;
  /** TLS to the nodes (scheme tls): client certificate (PEM, key decrypted) and verification. */
  readonly tls: UpstreamTlsConf | undefined;
  readonly checks: Readonly<Record<string, unknown>> | undefined;
}

export interface UpstreamTlsConf {
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  /** Verify the node's certificate against apisix.ssl.ssl_trusted_certificate (Sluice extra; APISIX: off). */
  readonly verify: boolean;
}

/** A server certificate for TLS termination (ssls with type server and status 1). */
/** APISIX's ssl_protocols names. */
export type TlsProtocol = 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface SslConf {
  readonly id: string;
  /** Lower-cased: exact names, `*.x.com` (one label), or `*`. */
  readonly snis: readonly string[];
  /** PEM chain(s): `cert` first, then `certs`; keys in the same order, decrypted. */
  readonly certs: readonly string[];
  readonly keys: readonly string[];
  /** Client CA (PEM) and verify depth when mTLS is on. */
  readonly clientCa: string | undefined;
  readonly clientDepth: number;
  /** ssl_protocols: the TLS versions this certificate's handshakes may use; empty = the default (TLSv1.2, TLSv1.3). */
  readonly protocols: readonly TlsProtocol[];
  /** Changes whenever the source object changes: compiled contexts are reused while it stays the same. */
  readonly version: string;
}

export interface RouteConf {
  readonly id: string;
  /** Store createdIndex: ties are broken by creation order; a PUT that replaces a route keeps it. */
  readonly createdIndex: number;
  readonly name: string | undefined;
  /** remote_addr and remote_addrs together (a client matches if it is in either); empty = any client. */
  readonly remoteAddrs: readonly string[];
  readonly serverAddr: string | undefined;
  readonly serverPort: number | undefined;
  /** sni and snis together; empty = not an SNI route. */
  readonly snis: readonly string[];
  readonly tlsPassthrough: boolean;
  /** The service's plugin confs merged under the route's (the route wins per plugin), validated, defaults filled. */
  readonly plugins: Readonly<Record<string, unknown>>;
  /** traffic-split's weighted upstreams resolved to Snapshot.upstreams keys, by `<rule>/<index>` (absent = the
   * route's own upstream). */
  readonly pluginUpstreams: Readonly<Record<string, string>>;
  /** Key into Snapshot.upstreams; undefined = the route has no upstream (connections are closed). */
  readonly upstreamKey: string | undefined;
  readonly serviceId: string | undefined;
}

export interface SnapshotData {
  /** The store revision this snapshot reflects. */
  readonly version: number;
  readonly routes: readonly RouteConf[];
  readonly upstreams: Readonly<Record<string, UpstreamConf>>;
  readonly ssls: readonly SslConf[];
  /** config.yaml's stream_plugins: the only plugins that run. */
  readonly streamPlugins: readonly string[];
  /** plugin_metadata by plugin name (validated). */
  readonly pluginMetadata: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly tls: {
    /** apisix.ssl.fallback_sni: the name whose certificate serves clients that send no SNI ('' = none). */
    readonly fallbackSni: string;
    /** PEM of apisix.ssl.ssl_trusted_certificate, for upstream `tls.verify`. */
    readonly trustedCa: string | undefined;
  };
}
