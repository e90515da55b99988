// The MQTT CONNECT reader for the mqtt-proxy stream plugin: MQTT 3.1 (MQIsdp, level 3), 3.1.1 (level 4) and 5.0
// (level 5). Hand-written because it reads untrusted bytes on the data path before any broker sees them, and only
// the few fields the proxy needs (protocol name and level, client id): a full MQTT library would parse and allocate
// far more. Every length is checked against the packet's remaining length and the buffer; never throws; O(n).
// The whole packet is awaited (as APISIX peeks pos + remaining length), capped at MQTT_CONNECT_MAX bytes: a CONNECT
// is a few hundred bytes in practice (client id, will, username, password); 64 KiB leaves room for large will
// messages and MQTT 5 properties while bounding what a client can make a session buffer before it is refused.
// Stricter than APISIX (which accepts first bytes 16..32): the first byte must be 0x10 (CONNECT, reserved flags 0)
// and the reserved connect flag must be 0, as the MQTT specs require a server to refuse anything else.

export const MQTT_CONNECT_MAX = 65536;

export type ConnectParse =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'ok'; readonly protocolName: string; readonly protocolLevel: number; readonly clientId: string; readonly length: number }
  | { readonly kind: 'bad'; readonly reason: string };

const NEED_MORE: ConnectParse = { kind: 'need_more' };
const bad = (reason: string): ConnectParse => ({ kind: 'bad', reason });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A variable byte integer at `at`: its value and size, 'short' when the buffer ends inside it, or 'bad'. */
function varint(buf: Uint8Array, at: number, end: number): { value: number; size: number } | 'short' | 'bad' {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    if (at + i >= end) return 'short';
    const b = buf[at + i] as number;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return { value, size: i + 1 };
    mult *= 128;
  }
  return 'bad';
}

export function parseConnect(buf: Uint8Array, maxBytes = MQTT_CONNECT_MAX): ConnectParse {
  if (buf.length === 0) return NEED_MORE;
  const first = buf[0] as number;
  if (first !== 0x10) return bad(`not an MQTT CONNECT packet (first byte 0x${first.toString(16).padStart(2, '0')})`);
  const rl = varint(buf, 1, buf.length);
  if (rl === 'short') return NEED_MORE;
  if (rl === 'bad') return bad('malformed remaining length (more than 4 bytes)');
  const length = 1 + rl.size + rl.value;
  if (length > maxBytes) return bad(`CONNECT packet of ${length} bytes is over the ${maxBytes}-byte limit`);
  if (buf.length < length) return NEED_MORE;
  const end = length;
  let p = 1 + rl.size;
  const u16 = (): number | undefined => {
    if (p + 2 > end) return undefined;
    const v = ((buf[p] as number) << 8) | (buf[p + 1] as number);
    p += 2;
    return v;
  };
  const str = (what: string): string | ConnectParse => {
    const n = u16();
    if (n === undefined || p + n > end) return bad(`${what} runs past the end of the packet`);
    let s: string;
    try { s = utf8.decode(buf.subarray(p, p + n)); } catch { return bad(`${what} is not valid UTF-8`); }
    p += n;
    return s;
  };
  const protocolName = str('protocol name');
  if (typeof protocolName !== 'string') return protocolName;
  if (p + 4 > end) return bad('variable header runs past the end of the packet');
  const protocolLevel = buf[p] as number;
  const flags = buf[p + 1] as number;
  p += 4; // level, connect flags, keep alive
  if ((flags & 0x01) !== 0) return bad('reserved connect flag is set');
  if (protocolLevel === 5) {
    const props = varint(buf, p, end);
    if (props === 'short' || props === 'bad' || p + props.size + props.value > end) return bad('MQTT 5 properties run past the end of the packet');
    p += props.size + props.value;
  }
  const clientId = str('client id');
  if (typeof clientId !== 'string') return clientId;
  return { kind: 'ok', protocolName, protocolLevel, clientId, length };
}
