// The validated, defaulted, frozen shape of config.yaml (CONTRACT §2). Types only.

export type ProxyMode = 'http' | 'stream' | 'http&stream';

export interface ListenerSpec {
  readonly proto: 'tcp' | 'udp';
  /** null = every interface (0.0.0.0 and [::]). */
  readonly host: string | null;
  readonly port: number;
  readonly tls: boolean;
  readonly proxyProtocol: boolean;
  readonly proxyProtocolToUpstream: boolean;
  readonly proxyProtocolToUpstreamVersion: 1 | 2;
  /** Where it was declared, e.g. `conf/config.yaml:7`, for errors about binding it. */
  readonly source: string;
}

export interface AdminKey {
  readonly name: string;
  readonly key: string;
  readonly role: 'admin' | 'viewer';
}

export interface EtcdConf {
  readonly host: readonly string[];
  readonly prefix: string;
  readonly timeout: number;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly tls?: { readonly cert?: string; readonly key?: string; readonly verify?: boolean; readonly sni?: string } | undefined;
}

export interface StreamLogConf {
  readonly enable_access_log: boolean;
  readonly access_log: string;
  readonly access_log_format: string;
  readonly access_log_format_escape: 'default' | 'json';
  readonly real_ip_from: readonly string[];
}

export interface SluiceConf {
  readonly workers: number | 'auto';
  readonly data_dir: string;
  readonly shutdown_timeout: number;
  readonly tls_handshake_timeout: number;
  readonly max_connections: number;
  readonly udp_session_timeout: number;
  readonly udp_max_sessions: number;
  /** auto: plain TCP sessions relay in native/ where it is built; off: always the TypeScript relay. */
  readonly native_relay: 'auto' | 'off';
}

/** plugin_attr.prometheus (CONTRACT §5). */
export interface PrometheusAttr {
  readonly export_addr: { readonly ip: string; readonly port: number };
  readonly export_uri: string;
  readonly metric_prefix: string;
  /** false: no listener of its own; the metrics are served at export_uri on the admin listener (with a key). */
  readonly enable_export_server: boolean;
  /** Seconds; 0 = live. */
  readonly refresh_interval: number;
}

export interface Config {
  readonly apisix: {
    readonly proxy_mode: ProxyMode;
    /** Raw entries as written; `listeners` below holds them parsed. Absent = stream proxy not configured. */
    readonly stream_proxy?: { readonly tcp?: readonly unknown[]; readonly udp?: readonly unknown[] } | undefined;
    readonly ssl: { readonly fallback_sni: string; readonly ssl_trusted_certificate?: string | undefined };
    readonly proxy_protocol: { readonly enable_tcp_pp: boolean; readonly enable_tcp_pp_to_upstream: boolean };
    readonly data_encryption: { readonly enable_encrypt_fields: boolean; readonly keyring: readonly string[] };
    readonly enable_control: boolean;
    readonly control: { readonly ip: string; readonly port: number };
    readonly dns_resolver: readonly string[];
    /** APISIX 2.x's place for the Admin API switch: false turns it off too (deployment.admin.enable_admin). */
    readonly enable_admin?: boolean | undefined;
    /** false: listeners given by port only bind IPv4 only (applied when the listeners are parsed). */
    readonly enable_ipv6?: boolean | undefined;
  };
  readonly deployment: {
    readonly role: 'traditional' | 'data_plane';
    readonly role_traditional: { readonly config_provider: 'embedded' | 'etcd' };
    readonly role_data_plane: { readonly config_provider: 'yaml' };
    readonly etcd: EtcdConf;
    readonly admin: {
      readonly enable_admin: boolean;
      readonly admin_key_required: boolean;
      readonly admin_key: readonly AdminKey[];
      readonly allow_admin: readonly string[];
      readonly admin_listen: { readonly ip: string; readonly port: number };
      /** APISIX's CORS headers on every answer, and a 200 to OPTIONS before the key check. */
      readonly enable_admin_cors?: boolean | undefined;
    };
  };
  readonly stream_plugins: readonly string[];
  readonly plugin_attr: { readonly prometheus: PrometheusAttr } & Readonly<Record<string, unknown>>;
  readonly nginx_config: { readonly stream: StreamLogConf };
  readonly sluice: SluiceConf;
}

/** A loaded config: the values, the parsed listeners, where it came from. */
export interface LoadedConfig {
  readonly config: Config;
  readonly listeners: readonly ListenerSpec[];
  readonly file: string;
  readonly prefix: string;
  readonly warnings: readonly string[];
  /** True when stream routes may be used: proxy_mode includes stream AND stream_proxy is set. */
  readonly streamEnabled: boolean;
}
