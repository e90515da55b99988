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

/** `host:port`, with IPv6 hosts in brackets (`[::1]:80`), as in logs, metrics and node ids. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A listener as shown in logs and metrics labels: `host:port`, `[v6]:port`, `*:port` for all interfaces. */
export function listenerAddr(l: { readonly host: string | null; readonly port: number }): string {
  return l.host === null ? `*:${l.port}` : hostPort(l.host, l.port);
}

/**
 * Identity of a listener, shared by the primary and the workers: config entries are unique by protocol, host and
 * port; listeners bound on port 0 (tests, benches) are told apart by their source.
 */
export function listenerKey(l: { readonly proto: string; readonly host: string | null; readonly port: number; readonly source: string }): string {
  return `${l.proto}|${l.host ?? '*'}|${l.port}${l.port === 0 ? `|${l.source}` : ''}`;
}

/** An id as stored (string or integer) → its string form. */
export function idOf(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
