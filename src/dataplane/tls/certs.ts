// Server certificates compiled per snapshot into TLS contexts, and looked up by SNI at handshake time:
// exact name > `*.x.com` (exactly one label) > `*`; a client without SNI gets apisix.ssl.fallback_sni's certificate.
// Contexts are reused across snapshots while their SSL object is unchanged. Each context has its own session
// ticket keys and session id context, so a session resumed under one SNI cannot skip another SNI's client-CA check.
import { constants as cryptoConstants, createHash, X509Certificate } from 'node:crypto';
import { createSecureContext, DEFAULT_CIPHERS, type SecureContext, type SecureVersion } from 'node:tls';
import type { SnapshotData, SslConf, TlsProtocol } from '../../model/snapshot.ts';

const VERSIONS: readonly TlsProtocol[] = ['TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const NO_VERSION: Readonly<Record<TlsProtocol, number>> = {
  'TLSv1.1': cryptoConstants.SSL_OP_NO_TLSv1_1, 'TLSv1.2': cryptoConstants.SSL_OP_NO_TLSv1_2, 'TLSv1.3': cryptoConstants.SSL_OP_NO_TLSv1_3,
};

/**
 * An SSL's ssl_protocols as context options: its lowest and highest versions, a version left out in between (TLSv1.1
 * and TLSv1.3 without TLSv1.2) switched off, and no list = APISIX's default, TLSv1.2 and TLSv1.3. TLSv1.1 signs with
 * SHA-1, which OpenSSL 3 refuses above security level 0: that level is set for the SSLs that list TLSv1.1 only.
 */
export function protocolOptions(list: readonly TlsProtocol[]): { minVersion: SecureVersion; maxVersion: SecureVersion; secureOptions: number; ciphers?: string } {
  const on = VERSIONS.filter((v) => (list.length === 0 ? v !== 'TLSv1.1' : list.includes(v)));
  const lo = VERSIONS.indexOf(on[0] ?? 'TLSv1.2');
  const hi = VERSIONS.indexOf(on[on.length - 1] ?? 'TLSv1.3');
  let secureOptions = 0;
  for (let i = lo; i <= hi; i++) {
    const v = VERSIONS[i] as TlsProtocol;
    if (!on.includes(v)) secureOptions |= NO_VERSION[v];
  }
  return {
    minVersion: VERSIONS[lo] as SecureVersion, maxVersion: VERSIONS[hi] as SecureVersion, secureOptions,
    ...(on.includes('TLSv1.1') ? { ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=0` } : {}),
  };
}

/**
 * `cert` + `certs` paired with `key` + `keys`, one pair per key type (APISIX's `certs` are for serving, say, RSA and
 * ECDSA certificates for the same names). Two pairs of the same type: the later one wins, as in APISIX, which sets
 * them one after the other on the connection. Node's createSecureContext sets every cert before every key, so two
 * certificates of one type would leave the first key without its certificate and fail the whole SSL.
 */
function pairsByKeyType(certs: readonly string[], keys: readonly string[]): { cert: string[]; key: string[] } {
  const byType = new Map<string, { cert: string; key: string }>();
  certs.forEach((cert, i) => {
    const key = keys[i];
    if (key === undefined) return;
    let type: string;
    try {
      type = new X509Certificate(cert).publicKey.asymmetricKeyType ?? `#${i}`;
    } catch {
      type = `#${i}`; // createSecureContext reports it
    }
    byType.delete(type);
    byType.set(type, { cert, key });
  });
  const pairs = [...byType.values()];
  return { cert: pairs.map((p) => p.cert), key: pairs.map((p) => p.key) };
}

export class CertEntry {
  readonly conf: SslConf;
  readonly context: SecureContext;
  readonly mtls: boolean;
  constructor(conf: SslConf) {
    this.conf = conf;
    this.mtls = conf.clientCa !== undefined;
    const { cert, key } = pairsByKeyType(conf.certs, conf.keys);
    const versions = protocolOptions(conf.protocols);
    this.context = createSecureContext({
      cert: cert.length === 1 ? cert[0] : cert,
      key: key.length === 1 ? key[0] : key,
      ...(conf.clientCa !== undefined ? { ca: conf.clientCa } : {}),
      sessionIdContext: createHash('sha256').update(`sluice-ssl-${conf.id}`).digest('hex').slice(0, 32),
      ...versions,
      // mTLS: no session tickets, so that every connection is verified (CA and depth) in full, never resumed.
      secureOptions: versions.secureOptions | (conf.clientCa !== undefined ? cryptoConstants.SSL_OP_NO_TICKET : 0),
    });
  }
}

export class CertTable {
  readonly #exact = new Map<string, CertEntry>();
  readonly #wild = new Map<string, CertEntry>();
  readonly #any: CertEntry | undefined;
  readonly #fallbackSni: string;
  /** SSL objects that failed to compile (bad PEM), with the reason: logged by the worker. */
  readonly errors: { id: string; error: string }[] = [];
  readonly entries: ReadonlyMap<string, CertEntry>;

  constructor(snap: SnapshotData, previous: CertTable | undefined) {
    const entries = new Map<string, CertEntry>();
    let any: CertEntry | undefined;
    for (const conf of snap.ssls) {
      let e = previous?.entries.get(conf.id);
      if (e === undefined || e.conf.version !== conf.version) {
        try {
          e = new CertEntry(conf);
        } catch (err) {
          this.errors.push({ id: conf.id, error: (err as Error).message });
          continue;
        }
      }
      entries.set(conf.id, e);
      for (const sni of conf.snis) {
        if (sni === '*') any ??= e;
        else if (sni.startsWith('*.')) { if (!this.#wild.has(sni.slice(2))) this.#wild.set(sni.slice(2), e); }
        else if (!this.#exact.has(sni)) this.#exact.set(sni, e);
      }
    }
    this.entries = entries;
    this.#any = any;
    this.#fallbackSni = snap.tls.fallbackSni;
  }

  /** The certificate for a ClientHello's SNI (undefined SNI → fallback_sni); undefined = the handshake must fail. */
  lookup(sni: string | undefined): CertEntry | undefined {
    const name = sni ?? (this.#fallbackSni !== '' ? this.#fallbackSni : undefined);
    if (name === undefined) return undefined;
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const w = this.#wild.get(name.slice(dot + 1));
      if (w !== undefined) return w;
    }
    return this.#any;
  }
}
