// JSON Schema of config.yaml (CONTRACT §2). ajv fills the defaults (APISIX's where the key is APISIX's).
// Listener entries are checked by listeners.ts, which produces APISIX's texts; here they are left open.

export const DEFAULT_ADMIN_KEY = 'edd1c9f034335f136f87ad84b625c8f1';

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
// Port 0 lets the kernel pick a free port (tests start gateways on port 0).
const ipPort = (ip: string, p: number) => ({
  type: 'object', additionalProperties: false, default: {},
  properties: { ip: { type: 'string', minLength: 1, default: ip }, port: { ...port, minimum: 0, default: p } },
}) as const;
const bool = (d: boolean) => ({ type: 'boolean', default: d }) as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    apisix: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        proxy_mode: { type: 'string', enum: ['http', 'stream', 'http&stream'], default: 'http' },
        stream_proxy: {
          type: 'object', additionalProperties: false,
          properties: { tcp: { type: 'array' }, udp: { type: 'array' } },
        },
        ssl: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            fallback_sni: { type: 'string', default: '' },
            ssl_trusted_certificate: { type: 'string' },
          },
        },
        proxy_protocol: {
          type: 'object', additionalProperties: false, default: {},
          properties: { enable_tcp_pp: bool(false), enable_tcp_pp_to_upstream: bool(false) },
        },
        data_encryption: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            enable_encrypt_fields: bool(true),
            keyring: { type: 'array', items: { type: 'string', minLength: 16 }, default: ['qeddd145sfvddff3', 'edd1c9f0985e76a2'] },
          },
        },
        enable_control: bool(true),
        control: ipPort('127.0.0.1', 9090),
        dns_resolver: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
        // APISIX keys that only concern its HTTP proxy: accepted so an APISIX file loads, and ignored.
        // APISIX 2.x's Admin API switch, and IPv6 for listeners given by port only: both act (gateway.ts, load.ts)
        enable_admin: { type: 'boolean' }, enable_ipv6: { type: 'boolean' },
        node_listen: {}, enable_http2: {}, enable_server_tokens: {},
        show_upstream_status_in_response_header: {}, extra_lua_path: {}, extra_lua_cpath: {},
        enable_resolv_search_opt: {}, delete_uri_tail_slash: {}, normalize_uri_like_servlet: {}, router: {},
        enable_reuseport: {}, lua_module_hook: {}, events: {}, disable_sync_configuration_during_start: {},
      },
    },
    deployment: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        role: { type: 'string', enum: ['traditional', 'data_plane'], default: 'traditional' },
        role_traditional: {
          type: 'object', additionalProperties: false, default: {},
          properties: { config_provider: { type: 'string', enum: ['embedded', 'etcd'], default: 'embedded' } },
        },
        role_data_plane: {
          type: 'object', additionalProperties: false, default: {},
          properties: { config_provider: { type: 'string', enum: ['yaml'], default: 'yaml' } },
        },
        etcd: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            host: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://' }, default: ['http://127.0.0.1:2379'] },
            prefix: { type: 'string', pattern: '^/', default: '/apisix' },
            timeout: { type: 'number', exclusiveMinimum: 0, default: 30 },
            user: { type: 'string' },
            password: { type: 'string' },
            tls: {
              type: 'object', additionalProperties: false,
              properties: { cert: { type: 'string' }, key: { type: 'string' }, verify: { type: 'boolean' }, sni: { type: 'string' } },
            },
            startup_retry: {}, watch_timeout: {},
          },
        },
        admin: {
          type: 'object', additionalProperties: false, default: {},
          properties: {
            enable_admin: bool(true),
            admin_key_required: bool(true),
            admin_key: {
              type: 'array',
              items: {
                type: 'object', additionalProperties: false, required: ['name', 'key', 'role'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  key: { type: 'string', minLength: 1 },
                  role: { type: 'string', enum: ['admin', 'viewer'] },
                },
              },
              default: [{ name: 'admin', key: DEFAULT_ADMIN_KEY, role: 'admin' }],
            },
            allow_admin: { type: 'array', items: { type: 'string', minLength: 1 }, default: ['127.0.0.0/24', '::1/128'] },
            admin_listen: ipPort('127.0.0.1', 9180),
            admin_api_version: { type: 'string', enum: ['v3'] },
            enable_admin_cors: { type: 'boolean' }, https_admin: {}, admin_ssl: {},
          },
        },
      },
    },
    stream_plugins: {
      type: 'array', items: { type: 'string', minLength: 1 },
      default: ['ip-restriction', 'limit-conn', 'mqtt-proxy', 'syslog', 'traffic-split'],
    },
    plugins: { type: 'array', items: { type: 'string' } }, // APISIX's HTTP plugin list: accepted, ignored
    plugin_attr: {
      type: 'object', default: {},
      properties: {
        prometheus: {
          type: 'object', default: {},
          additionalProperties: false,
          properties: {
            export_addr: ipPort('127.0.0.1', 9091),
            export_uri: { type: 'string', minLength: 1, pattern: '^/', default: '/apisix/prometheus/metrics' },
            metric_prefix: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$', default: 'apisix_' },
            enable_export_server: bool(true),
            // seconds a scrape's answer is kept; 0 = every scrape is live (APISIX caches 15 s by default)
            refresh_interval: { type: 'number', minimum: 0, default: 0 },
          },
        },
      },
    },
    nginx_config: {
      type: 'object', default: {},
      properties: {
        stream: {
          type: 'object', default: {},
          properties: {
            enable_access_log: bool(false),
            access_log: { type: 'string', minLength: 1, default: 'logs/access_stream.log' },
            access_log_format: {
              type: 'string', minLength: 1,
              default: '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time',
            },
            access_log_format_escape: { type: 'string', enum: ['default', 'json'], default: 'default' },
            real_ip_from: { type: 'array', items: { type: 'string' }, default: [] },
          },
        },
      },
    },
    sluice: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        workers: { anyOf: [{ type: 'integer', minimum: 1, maximum: 64 }, { const: 'auto' }], default: 'auto' },
        data_dir: { type: 'string', minLength: 1, default: 'data' },
        shutdown_timeout: { type: 'number', minimum: 0, default: 10 },
        tls_handshake_timeout: { type: 'number', exclusiveMinimum: 0, default: 5 },
        max_connections: { type: 'integer', minimum: 1, default: 100000 },
        udp_session_timeout: { type: 'number', exclusiveMinimum: 0, default: 600 },
        udp_max_sessions: { type: 'integer', minimum: 1, default: 65536 },
        native_relay: { type: 'string', enum: ['auto', 'off'], default: 'auto' },
      },
    },
  },
} as const;

/** Keys under nginx_config that Sluice honours; others are warned about and ignored (CONTRACT §2). */
export const NGINX_CONFIG_KNOWN: Readonly<Record<string, readonly string[]>> = {
  stream: ['enable_access_log', 'access_log', 'access_log_format', 'access_log_format_escape', 'real_ip_from'],
};
