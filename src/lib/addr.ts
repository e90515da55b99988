// Upstream node addresses: `host:port`, `[v6]:port`, a bare host or IPv6 address (no port).

export function splitNodeKey(key: string): { host: string; port: number | undefined } | undefined {
  let host: string;
  let portText: string | undefined;
  if (key.startsWith('[')) {
    const end = key.indexOf(']');
    if (end < 0) return undefined;
    host = key.slice(1, end);
    const rest = key.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
  } else if (key.split(':').length - 1 === 1) {
    const i = key.indexOf(':');
    host = key.slice(0, i);
    portText = key.slice(i + 1);
  } else {
    host = key; // a bare IPv6 address, or a host without a port
    portText = undefined;
  }
  if (host === '') return undefined;
  if (portText === undefined) return { host, port: undefined };
  if (!/^-?\d+$/.test(portText)) return undefined;
  return { host, port: Number(portText) };
}

/** An id as stored (string or integer) → its string form. */
export function idOf(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
