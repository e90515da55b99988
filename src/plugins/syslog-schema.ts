// The stream syslog plugin's schemas, as APISIX declares them in apisix/stream/plugins/syslog.lua:
//   SYSLOG_SCHEMA           its own properties, wrapped by batch_processor_manager:wrap_schema, which adds the batch
//                           processor's (name, max_retry_count, retry_delay, buffer_duration, inactive_timeout,
//                           batch_max_size, with their defaults and bounds) and sets name's default to the stream
//                           manager's name, "stream sys logger".
//   SYSLOG_METADATA_SCHEMA  { log_format } wrapped by wrap_metadata_schema, which adds max_pending_entries.
// checkSyslogConf holds what JSON Schema cannot say (see observe/syslog-sender.ts checkSenderConf): APISIX accepts
// those confs and then fails on every batch (flush_limit >= drop_limit) or ignores the setting (tls).
import type { Schema } from '../lib/jsonschema.ts';
import { DEFAULT_MAX_PENDING_ENTRIES } from '../observe/batch-processor.ts';
import { checkSenderConf, type SyslogSenderConf } from '../observe/syslog-sender.ts';

export const SYSLOG_SCHEMA: Schema = {
  type: 'object',
  properties: {
    host: { type: 'string' },
    port: { type: 'integer' },
    flush_limit: { type: 'integer', minimum: 1, default: 4096 },
    drop_limit: { type: 'integer', default: 1048576 },
    timeout: { type: 'integer', minimum: 1, default: 3000 },
    log_format: { type: 'object' },
    sock_type: { type: 'string', default: 'tcp', enum: ['tcp', 'udp'] },
    pool_size: { type: 'integer', minimum: 5, default: 5 },
    tls: { type: 'boolean', default: false },
    // batch_processor.schema, added by wrap_schema
    name: { type: 'string', default: 'stream sys logger' },
    max_retry_count: { type: 'integer', minimum: 0, default: 0 },
    retry_delay: { type: 'integer', minimum: 0, default: 1 },
    buffer_duration: { type: 'integer', minimum: 1, default: 60 },
    inactive_timeout: { type: 'integer', minimum: 1, default: 5 },
    batch_max_size: { type: 'integer', minimum: 1, default: 1000 },
  },
  required: ['host', 'port'],
};

export const SYSLOG_METADATA_SCHEMA: Schema = {
  type: 'object',
  properties: {
    log_format: { type: 'object' },
    max_pending_entries: {
      type: 'integer',
      minimum: 1,
      default: DEFAULT_MAX_PENDING_ENTRIES,
      description: 'maximum number of entries waiting to be processed; new entries are discarded while the backlog exceeds it',
    },
  },
};

/** A conf that passed SYSLOG_SCHEMA (defaults filled). */
export type SyslogConf = SyslogSenderConf & { readonly log_format?: Record<string, unknown> };

/** For the plugin's `check`: runs after SYSLOG_SCHEMA passed; returns the problem. */
export function checkSyslogConf(conf: Record<string, unknown>): string | undefined {
  return checkSenderConf(conf as unknown as SyslogConf);
}
