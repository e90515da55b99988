// One RFC 5424 syslog message, framed byte for byte as APISIX's apisix/utils/rfc5424.lua encode() frames it, so a
// syslog server fed by Sluice sees what it saw from APISIX:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG\n        e.g. <46>1 2026-03-02T00:14:19.123Z - apisix 4242 - - {...}
// PRI = facility * 8 + severity (SYSLOG/INFO = 46). TIMESTAMP is log_util.get_rfc3339_zulu_timestamp(): UTC,
// `os.date("!%Y-%m-%dT%T.")` plus the milliseconds floored to three digits and `Z`. A missing hostname or app name
// is `-` (Lua's `if not hostname`: only nil, an empty string stays empty); PROCID is `%d` (an integer). MSGID and
// STRUCTURED-DATA are `-` (the syslog plugin never passes structured data). The trailing LF is APISIX's: it is the
// record terminator on TCP (RFC 6587 non-transparent framing); a UDP receiver drops it (rsyslog does).
// The message is not escaped: the syslog plugin's message is JSON text, which holds no raw LF.

/** APISIX's Facility table (rfc5424.lua). */
export const FACILITY = {
  KERN: 0, USER: 1, MAIL: 2, DAEMON: 3, AUTH: 4, SYSLOG: 5, LPR: 6, NEWS: 7, UUCP: 8, CRON: 9, AUTHPRIV: 10, FTP: 11,
  LOCAL0: 16, LOCAL1: 17, LOCAL2: 18, LOCAL3: 19, LOCAL4: 20, LOCAL5: 21, LOCAL6: 22, LOCAL7: 23,
} as const;

/** APISIX's Severity table; it spells emergency `EMEGR`, kept for compatibility next to the right `EMERG`. */
export const SEVERITY = {
  EMERG: 0, EMEGR: 0, ALERT: 1, CRIT: 2, ERR: 3, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7,
} as const;

export type Facility = keyof typeof FACILITY;
export type Severity = keyof typeof SEVERITY;

export interface Rfc5424Options {
  readonly facility: Facility;
  readonly severity: Severity;
  /** undefined → `-` (in APISIX's stream subsystem ctx.var.host is nil, so its stream records carry `-`). */
  readonly hostname: string | undefined;
  /** undefined → `-`; the syslog plugin passes `apisix`. */
  readonly appName: string | undefined;
  /** The worker's pid (`%d`: the integer part). */
  readonly procId: number;
  readonly msg: string;
  /** When the record was made; default now. */
  readonly time?: Date;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** get_rfc3339_zulu_timestamp: `2026-03-02T00:14:19.123Z` (UTC, milliseconds floored). */
export function rfc3339Zulu(d: Date): string {
  const ms = d.getUTCMilliseconds();
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
    + `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
    + `.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/** rfc5424.encode(facility, severity, hostname, appname, pid, msg): one LF-terminated message. */
export function encodeRfc5424(o: Rfc5424Options): string {
  const pri = FACILITY[o.facility] * 8 + SEVERITY[o.severity];
  return `<${pri}>1 ${rfc3339Zulu(o.time ?? new Date())} ${o.hostname ?? '-'} ${o.appName ?? '-'} ${Math.trunc(o.procId)} - - ${o.msg}\n`;
}
