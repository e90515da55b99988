// A bounded, allocation-light parser of the TLS ClientHello, for TLS passthrough (route by SNI without terminating)
// and for choosing the certificate and client-certificate policy before a handshake starts. Hand-written: no library
// parses a ClientHello from raw bytes without terminating. It reads TLS records (type 22), joins the handshake
// message across records if needed, and walks to the server_name extension. It never throws; `need_more` asks for
// more bytes (callers bound how many and for how long).

export type HelloResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'not_tls' }
  | { readonly kind: 'malformed'; readonly why: string }
  | { readonly kind: 'ok'; readonly sni: string | undefined };

export const MAX_HELLO_BYTES = 16 * 1024;

const HOSTNAME = /^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/;

/** Collects the handshake bytes carried by consecutive handshake records; undefined = need more. */
function handshakeBytes(buf: Buffer): { bytes: Buffer; complete: boolean } | { error: string } | { notTls: true } {
  if (buf.length >= 1 && buf[0] !== 0x16) return { notTls: true };
  if (buf.length >= 2 && buf[1] !== 0x03) return { notTls: true };
  const parts: Buffer[] = [];
  let total = 0;
  let off = 0;
  let need = -1;
  while (off + 5 <= buf.length) {
    if (buf[off] !== 0x16) return parts.length === 0 ? { notTls: true } : { error: 'non-handshake record inside the ClientHello' };
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > 16384 + 2048) return { error: `bad record length ${len}` };
    if (off + 5 + len > buf.length) {
      parts.push(buf.subarray(off + 5));
      total += buf.length - off - 5;
      return { bytes: Buffer.concat(parts, total), complete: false };
    }
    parts.push(buf.subarray(off + 5, off + 5 + len));
    total += len;
    off += 5 + len;
    if (need < 0 && total >= 4) {
      const first = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
      if (first[0] !== 0x01) return { error: 'first handshake message is not a ClientHello' };
      need = 4 + ((first[1] as number) << 16 | (first[2] as number) << 8 | (first[3] as number));
      if (need > MAX_HELLO_BYTES) return { error: 'ClientHello too large' };
    }
    if (need >= 0 && total >= need) return { bytes: Buffer.concat(parts, total), complete: true };
  }
  return { bytes: Buffer.concat(parts, total), complete: false };
}

export function parseClientHello(buf: Buffer): HelloResult {
  if (buf.length === 0) return { kind: 'need_more' };
  const hs = handshakeBytes(buf);
  if ('notTls' in hs) return { kind: 'not_tls' };
  if ('error' in hs) return { kind: 'malformed', why: hs.error };
  if (!hs.complete) return buf.length >= MAX_HELLO_BYTES ? { kind: 'malformed', why: 'ClientHello too large' } : { kind: 'need_more' };
  const h = hs.bytes;
  const end = 4 + ((h[1] as number) << 16 | (h[2] as number) << 8 | (h[3] as number));
  let p = 4 + 2 + 32; // type+length, client_version, random
  const u8 = (): number => { if (p + 1 > end) throw new RangeError('short'); return h[p++] as number; };
  const u16 = (): number => { if (p + 2 > end) throw new RangeError('short'); const v = h.readUInt16BE(p); p += 2; return v; };
  const skip = (n: number): void => { if (p + n > end) throw new RangeError('short'); p += n; };
  try {
    if (p > end) return { kind: 'malformed', why: 'ClientHello shorter than its fixed fields' };
    skip(u8()); // session_id
    const suites = u16();
    if (suites === 0 || suites % 2 !== 0) return { kind: 'malformed', why: 'bad cipher_suites length' };
    skip(suites);
    skip(u8()); // compression_methods
    if (p === end) return { kind: 'ok', sni: undefined }; // no extensions
    const extLen = u16();
    const extEnd = p + extLen;
    if (extEnd > end) return { kind: 'malformed', why: 'extensions overrun the ClientHello' };
    while (p + 4 <= extEnd) {
      const type = u16();
      const len = u16();
      if (p + len > extEnd) return { kind: 'malformed', why: 'extension overruns the extensions block' };
      if (type !== 0) { p += len; continue; }
      const extStart = p;
      const listLen = u16();
      const listEnd = p + listLen;
      if (listEnd > extStart + len) return { kind: 'malformed', why: 'bad server_name list length' };
      while (p + 3 <= listEnd) {
        const nameType = u8();
        const nameLen = u16();
        if (p + nameLen > listEnd) return { kind: 'malformed', why: 'server name overruns its list' };
        if (nameType === 0) {
          const name = h.toString('latin1', p, p + nameLen).toLowerCase();
          if (!HOSTNAME.test(name)) return { kind: 'malformed', why: 'server name is not a host name' };
          return { kind: 'ok', sni: name.endsWith('.') ? name.slice(0, -1) : name };
        }
        p += nameLen;
      }
      return { kind: 'ok', sni: undefined };
    }
    return { kind: 'ok', sni: undefined };
  } catch {
    return { kind: 'malformed', why: 'ClientHello truncated' };
  }
}
