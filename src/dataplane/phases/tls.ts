// Phase: TLS termination on `tls: true` listeners, and the ClientHello peek for TLS passthrough on plain ones.
// Termination reads the ClientHello first (bounded: 16 KiB, sluice.tls_handshake_timeout), so the certificate and the
// client-certificate policy of that SNI are known before the handshake starts: an mTLS SNI requests and requires a
// client certificate (verified against its own CA), other SNIs never ask for one.
import { TLSSocket } from 'node:tls';
import { MAX_HELLO_BYTES, parseClientHello } from '../../lib/clienthello.ts';
import type { Verdict } from '../session/end.ts';
import type { Session } from '../session/session.ts';
import { preread } from './preread.ts';

interface VerifyHandle { verifyError(): Error | null }

const helloDone = (b: Buffer): boolean => parseClientHello(b).kind !== 'need_more';

/**
 * Certificates in the verified chain between the client's leaf and the trust anchor, i.e. its intermediate CAs
 * (0 = signed by a CA of client.ca; a self-signed leaf in client.ca counts as 0 too). client.depth is OpenSSL's
 * verify depth, as nginx's ssl_verify_depth and APISIX's client.depth set it: the number of intermediates allowed
 * (`openssl verify -verify_depth 1` accepts leaf → intermediate → root, refuses one more intermediate).
 */
function intermediates(sock: TLSSocket): number {
  return Math.max(0, chainDepth(sock) - 1);
}

/** Chain length above the leaf (0 = self-signed leaf, 1 = signed by the CA, ...). */
function chainDepth(sock: TLSSocket): number {
  let depth = 0;
  let c = sock.getPeerCertificate(true) as { issuerCertificate?: unknown; fingerprint256?: string } | null;
  const seen = new Set<string>();
  while (c !== null && typeof c === 'object' && c.fingerprint256 !== undefined && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    const next = c.issuerCertificate as { fingerprint256?: string } | undefined;
    if (next === undefined || next.fingerprint256 === c.fingerprint256) break;
    depth++;
    c = next;
  }
  return depth;
}

export async function terminateTls(s: Session, deadline: number, now: () => number): Promise<Verdict> {
  s.action = 'reading the TLS ClientHello';
  const pre = await preread(s.client, helloDone, MAX_HELLO_BYTES, Math.max(1, deadline - now()));
  if (pre.kind === 'closed') return { end: 'ClientClosed' };
  if (pre.kind === 'timeout' || pre.ended) return { end: 'HandshakeFailed' };
  const hello = parseClientHello(pre.buf);
  if (hello.kind !== 'ok') return { end: 'HandshakeFailed' };
  const entry = s.snapshot.certs.lookup(hello.sni);
  if (entry === undefined) return { end: 'HandshakeFailed' };
  s.action = 'TLS handshake';
  s.client.unshift(pre.buf);
  const raw = s.client;
  // No SNICallback: the context is already the SNI's. Node's SNI path (SSL_set_SSL_CTX + UseSNIContext) copies only
  // the context's current certificate and key onto the connection, which would drop all but the last of an SSL's
  // certs/keys (e.g. the ECDSA half of an RSA + ECDSA pair) (issue 6).
  const tls = new TLSSocket(raw, {
    isServer: true,
    secureContext: entry.context,
    requestCert: entry.mtls,
    rejectUnauthorized: entry.mtls,
  });
  tls.on('error', () => { /* the handshake result below reports it */ });
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(1, deadline - now()));
    tls.once('secure', () => { clearTimeout(timer); resolve(true); });
    tls.once('error', () => { clearTimeout(timer); resolve(false); });
    tls.once('close', () => { clearTimeout(timer); resolve(false); });
  });
  if (!ok) {
    // Once the TLS layer owns the connection, a client that drops out mid-handshake is a failed handshake too.
    tls.destroy();
    return { end: 'HandshakeFailed' };
  }
  if (entry.mtls) {
    const handle = (tls as unknown as { _handle?: VerifyHandle })._handle;
    const err = handle !== undefined ? handle.verifyError() : new Error('cannot verify the client certificate');
    if (err !== null || intermediates(tls) > entry.conf.clientDepth) {
      tls.destroy();
      return { end: 'HandshakeFailed' };
    }
  }
  const name = (tls as unknown as { servername?: string | false }).servername;
  s.sni = typeof name === 'string' && name !== '' ? name.toLowerCase() : hello.sni;
  s.client = tls;
  return 'continue';
}

export interface Peeked {
  readonly prefix: Buffer | undefined;
  readonly ended: boolean;
}

/** The passthrough peek waits at most this long, even with a longer sluice.tls_handshake_timeout (issue 6: ≤ 5 s). */
export const MAX_PEEK_MS = 5000;

/** TLS passthrough: reads the ClientHello's SNI without terminating; the bytes read go upstream first. */
export async function peekClientHello(s: Session, timeoutMs: number): Promise<Peeked | undefined> {
  s.action = 'reading a ClientHello for TLS passthrough';
  const pre = await preread(s.client, helloDone, MAX_HELLO_BYTES, Math.min(timeoutMs, MAX_PEEK_MS));
  if (pre.kind === 'closed') return undefined;
  const hello = parseClientHello(pre.buf);
  if (hello.kind === 'ok') s.sni = hello.sni;
  return { prefix: pre.buf, ended: pre.ended };
}
