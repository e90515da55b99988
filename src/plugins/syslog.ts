// syslog: each ended session's record, rendered with log_format (the conf's, else plugin_metadata/syslog's), JSON,
// framed as APISIX's RFC 5424 line (`<46>1 <time> - apisix <pid> - - {...}`, lib/rfc5424.ts) and queued on a sender
// (observe/syslog-sender.ts: batching, retries, bounded queue, UDP/TCP/TLS). As APISIX's stream subsystem: with no
// log_format anywhere nothing is sent (log-util has no default entry for stream sessions), and the hostname field is
// `-` (ctx.var.host is nil for streams).
// Routes with the same sender conf share one sender per worker (env.resource), kept across snapshots while the conf
// stays and closed (what is queued is sent, bounded) when no route uses it any more. The log hook only renders and
// pushes: it never waits and never throws, whatever the syslog server does.
import { encodeRfc5424 } from '../lib/rfc5424.ts';
import { compileLogFormat } from '../observe/log-format.ts';
import { SyslogSender, type SyslogSenderConf } from '../observe/syslog-sender.ts';
import type { Plugin } from './plugin.ts';
import { checkSyslogConf, SYSLOG_METADATA_SCHEMA, SYSLOG_SCHEMA, type SyslogConf } from './syslog-schema.ts';

type Render = ReturnType<typeof compileLogFormat>;

/** The sender as a plugin-env resource: close() is fire and forget (bounded inside), dropped() feeds the metrics. */
interface SenderResource {
  readonly sender: SyslogSender;
  close(): void;
  dropped(): number;
}

interface Compiled {
  readonly render: Render | undefined;
  readonly sender: SyslogSender | undefined;
}

const SENDER_KEYS = [
  'host', 'port', 'sock_type', 'tls', 'timeout', 'flush_limit', 'drop_limit', 'pool_size',
  'name', 'max_retry_count', 'retry_delay', 'buffer_duration', 'inactive_timeout', 'batch_max_size',
] as const;

function nonEmpty(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && Object.keys(v).length > 0 ? v as Record<string, unknown> : undefined;
}

export const syslog: Plugin<SyslogConf, Compiled> = {
  name: 'syslog',
  priority: 401,
  schema: SYSLOG_SCHEMA,
  metadataSchema: SYSLOG_METADATA_SCHEMA,
  check: checkSyslogConf,
  compile(conf, env) {
    const meta = env.metadata('syslog');
    // the conf's log_format wins when present, even empty (log-util: `conf.log_format or metadata...`)
    const format = conf.log_format ?? nonEmpty(meta?.log_format);
    if (format === undefined) return { render: undefined, sender: undefined };
    const maxPending = typeof meta?.max_pending_entries === 'number' ? meta.max_pending_entries : undefined;
    const ca = env.trustedCa();
    const senderConf = Object.fromEntries(SENDER_KEYS.map((k) => [k, conf[k]])) as unknown as SyslogSenderConf;
    const key = `syslog ${JSON.stringify([senderConf, maxPending, ca ?? ''])}`;
    const r = env.resource<SenderResource>(key, () => {
      const sender = new SyslogSender(senderConf, {
        ...(ca !== undefined ? { ca } : {}),
        ...(maxPending !== undefined ? { maxPendingEntries: maxPending } : {}),
        onError: (msg) => { env.log.warn({ plugin: 'syslog', host: conf.host, port: conf.port }, msg); },
      });
      return {
        sender,
        close() {
          sender.close().catch((err: unknown) => { env.log.warn({ err }, 'syslog: closing the sender failed'); });
        },
        dropped: () => { const s = sender.stats(); return s.dropped + s.failed; },
      };
    });
    return { render: compileLogFormat(format), sender: r.sender };
  },
  log(c, r) {
    if (c.render === undefined || c.sender === undefined) return;
    const rec = r.record;
    const entry = c.render((name) => r.variable(name), rec.routeId === undefined ? undefined : { id: rec.routeId, serviceId: rec.serviceId });
    c.sender.push(encodeRfc5424({ facility: 'SYSLOG', severity: 'INFO', hostname: undefined, appName: 'apisix', procId: process.pid, msg: JSON.stringify(entry) }));
  },
};
