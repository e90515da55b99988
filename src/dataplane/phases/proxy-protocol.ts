// Phase: read the PROXY protocol header (v1 or v2) a listener with proxy_protocol expects before anything else.
// Bytes that cannot start a header close the connection at once; an incomplete header closes it after 5 s (both
// BadClientData, 400). The header's source becomes the session's remote address only when the peer is trusted
// (nginx_config.stream.real_ip_from), as nginx's realip module does; otherwise it is read and dropped.
import { unmapV4, type CidrSet } from '../../lib/cidr.ts';
import { parseProxyHeader, V2_MAX } from '../../lib/proxy-protocol.ts';
import type { Verdict } from '../session/end.ts';
import type { Session } from '../session/session.ts';
import { preread } from './preread.ts';

export const PP_TIMEOUT_MS = 5000;

export interface AfterHeader {
  readonly verdict: Verdict;
  /** Client bytes after the header when the client also ended (they cannot be put back on the socket). */
  readonly prefix: Buffer | undefined;
  readonly ended: boolean;
}

export async function readProxyHeader(s: Session, trusted: CidrSet): Promise<AfterHeader> {
  s.action = 'reading the PROXY protocol header';
  const pre = await preread(s.client, (b) => parseProxyHeader(b).kind !== 'need_more', V2_MAX, PP_TIMEOUT_MS);
  if (pre.kind === 'closed') return { verdict: { end: 'ClientClosed' }, prefix: undefined, ended: false };
  const r = parseProxyHeader(pre.buf);
  if (r.kind !== 'ok') return { verdict: { end: 'BadClientData' }, prefix: undefined, ended: false };
  if (r.addresses !== undefined && trusted.has(s.remoteAddr)) {
    s.remoteAddr = unmapV4(r.addresses.srcAddr);
    s.remotePort = r.addresses.srcPort;
  }
  const rest = pre.buf.subarray(r.length);
  if (pre.ended) return { verdict: 'continue', prefix: rest.length > 0 ? rest : undefined, ended: true };
  if (rest.length > 0) s.client.unshift(rest);
  return { verdict: 'continue', prefix: undefined, ended: false };
}
