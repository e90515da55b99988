// parseListenerEntry and listenerAddr: every entry form of apisix.stream_proxy (CONTRACT §2) and APISIX's error texts.
import { test, type TestContext } from 'node:test';
import type { ListenerSpec } from '../../model/config.ts';
import { ListenerEntryError, MAX_PORTS_PER_ENTRY, listenerAddr, parseListenerEntry } from './listeners.ts';

type Proto = 'tcp' | 'udp';
/** What a case expects of each parsed listener: host, port and the object-form flags. */
type Want = Pick<ListenerSpec, 'host' | 'port' | 'tls' | 'proxyProtocol' | 'proxyProtocolToUpstream' | 'proxyProtocolToUpstreamVersion'>;

const plain = { tls: false, proxyProtocol: false, proxyProtocolToUpstream: false, proxyProtocolToUpstreamVersion: 1 } as const;
const on = (host: string | null, port: number, flags: Partial<Want> = {}): Want => ({ host, port, ...plain, ...flags });

const ok: { name: string; proto: Proto; entry: unknown; want: Want[] }[] = [
  { name: 'int port: every interface', proto: 'tcp', entry: 9100, want: [on(null, 9100)] },
  { name: 'int port, udp', proto: 'udp', entry: 9200, want: [on(null, 9200)] },
  { name: 'lowest port', proto: 'tcp', entry: 1, want: [on(null, 1)] },
  { name: 'highest port', proto: 'tcp', entry: 65535, want: [on(null, 65535)] },
  { name: 'port as a string', proto: 'tcp', entry: '9100', want: [on(null, 9100)] },
  { name: 'ipv4:port', proto: 'tcp', entry: '127.0.0.1:9101', want: [on('127.0.0.1', 9101)] },
  { name: '0.0.0.0:port is that address', proto: 'tcp', entry: '0.0.0.0:9101', want: [on('0.0.0.0', 9101)] },
  { name: '[v6]:port', proto: 'tcp', entry: '[::1]:9101', want: [on('::1', 9101)] },
  { name: '[::]:port', proto: 'udp', entry: '[::]:9201', want: [on('::', 9201)] },
  { name: 'full v6 address', proto: 'tcp', entry: '[2001:db8::1]:443', want: [on('2001:db8::1', 443)] },
  { name: 'range', proto: 'tcp', entry: '2000-2002', want: [on(null, 2000), on(null, 2001), on(null, 2002)] },
  { name: 'range of one port', proto: 'tcp', entry: '2000-2000', want: [on(null, 2000)] },
  { name: 'ip:range', proto: 'tcp', entry: '127.0.0.1:2000-2001', want: [on('127.0.0.1', 2000), on('127.0.0.1', 2001)] },
  { name: '[v6]:range', proto: 'udp', entry: '[::1]:2000-2001', want: [on('::1', 2000), on('::1', 2001)] },
  { name: 'surrounding spaces are ignored', proto: 'tcp', entry: ' 9100 ', want: [on(null, 9100)] },
  { name: 'object form, addr only', proto: 'tcp', entry: { addr: 9102 }, want: [on(null, 9102)] },
  { name: 'object form with tls', proto: 'tcp', entry: { addr: 9102, tls: true }, want: [on(null, 9102, { tls: true })] },
  { name: 'object form, tls: false', proto: 'tcp', entry: { addr: '127.0.0.1:9102', tls: false }, want: [on('127.0.0.1', 9102)] },
  {
    name: 'object form with proxy protocol both ways',
    proto: 'tcp',
    entry: { addr: '[::1]:9103', proxy_protocol: true, proxy_protocol_to_upstream: true },
    want: [on('::1', 9103, { proxyProtocol: true, proxyProtocolToUpstream: true })],
  },
  {
    name: 'object form with PROXY v2 to the upstream',
    proto: 'tcp',
    entry: { addr: 9104, proxy_protocol_to_upstream: true, proxy_protocol_to_upstream_version: 2 },
    want: [on(null, 9104, { proxyProtocolToUpstream: true, proxyProtocolToUpstreamVersion: 2 })],
  },
  {
    name: 'object form with a range: the flags apply to every port',
    proto: 'tcp',
    entry: { addr: '9105-9106', tls: true },
    want: [on(null, 9105, { tls: true }), on(null, 9106, { tls: true })],
  },
];

for (const c of ok) {
  test(`listener entry ${c.proto} ${JSON.stringify(c.entry)}: ${c.name}`, (t: TestContext) => {
    t.plan(3);
    const got = parseListenerEntry(c.entry, c.proto, 'conf/config.yaml:5');
    t.assert.deepStrictEqual(
      got.map((l) => ({ host: l.host, port: l.port, tls: l.tls, proxyProtocol: l.proxyProtocol,
        proxyProtocolToUpstream: l.proxyProtocolToUpstream, proxyProtocolToUpstreamVersion: l.proxyProtocolToUpstreamVersion })),
      c.want,
    );
    t.assert.ok(got.every((l) => l.proto === c.proto), 'proto');
    t.assert.ok(got.every((l) => l.source === 'conf/config.yaml:5'), 'source');
  });
}

const bad: { name: string; proto: Proto; entry: unknown; message: string; key?: string }[] = [
  { name: 'port above 65535', proto: 'tcp', entry: 70000, message: 'port out of range (1-65535): 70000' },
  { name: 'port 0', proto: 'tcp', entry: 0, message: 'port out of range (1-65535): 0' },
  { name: 'negative port', proto: 'udp', entry: -1, message: 'port out of range (1-65535): -1' },
  { name: 'string port above 65535', proto: 'tcp', entry: '127.0.0.1:65536', message: 'port out of range (1-65535): 65536' },
  { name: 'range end above 65535', proto: 'tcp', entry: '65535-65536', message: 'port out of range (1-65535): 65536' },
  { name: 'range start > end', proto: 'tcp', entry: '2005-2000', message: 'invalid port range (start > end): 2005-2000' },
  { name: 'ip:range start > end', proto: 'udp', entry: '127.0.0.1:2005-2000', message: 'invalid port range (start > end): 127.0.0.1:2005-2000' },
  {
    name: 'range wider than the cap', proto: 'tcp', entry: `1000-${1000 + MAX_PORTS_PER_ENTRY}`,
    message: `invalid port range (more than ${MAX_PORTS_PER_ENTRY} ports): 1000-${1000 + MAX_PORTS_PER_ENTRY}`,
  },
  { name: 'ip with an empty port', proto: 'tcp', entry: '127.0.0.1:', message: 'missing port: 127.0.0.1:' },
  { name: 'ip without a port', proto: 'tcp', entry: '127.0.0.1', message: 'missing port: 127.0.0.1' },
  { name: '[v6] without a port', proto: 'tcp', entry: '[::1]', message: 'missing port: [::1]' },
  { name: '[v6] with an empty port', proto: 'udp', entry: '[::1]:', message: 'missing port: [::1]:' },
  { name: 'bare v6 address', proto: 'tcp', entry: '::1', message: 'missing port: ::1' },
  { name: 'empty string', proto: 'tcp', entry: '', message: 'missing port: ' },
  { name: 'letters', proto: 'tcp', entry: 'abc', message: 'invalid port format: abc' },
  { name: 'ip:letters', proto: 'tcp', entry: '127.0.0.1:http', message: 'invalid port format: 127.0.0.1:http' },
  { name: 'half-open range', proto: 'tcp', entry: '2000-', message: 'invalid port format: 2000-' },
  { name: 'fractional port', proto: 'tcp', entry: 91.5, message: 'invalid port format: 91.5' },
  { name: 'unclosed [v6', proto: 'tcp', entry: '[::1:9100', message: 'invalid port format: [::1:9100' },
  { name: 'host name', proto: 'tcp', entry: 'localhost:9100', message: 'invalid address: localhost:9100' },
  { name: 'not v6 in brackets', proto: 'tcp', entry: '[127.0.0.1]:9100', message: 'invalid address: [127.0.0.1]:9100' },
  { name: 'boolean', proto: 'tcp', entry: true, message: 'invalid port value type: boolean' },
  { name: 'null', proto: 'tcp', entry: null, message: 'invalid port value type: nil' },
  { name: 'a list', proto: 'tcp', entry: [9100], message: 'invalid port value type: table' },
  { name: 'udp object form', proto: 'udp', entry: { addr: 9200 }, message: 'invalid port value type: table' },
  { name: 'object without addr', proto: 'tcp', entry: { tls: true }, message: 'missing addr' },
  { name: 'object with a boolean addr', proto: 'tcp', entry: { addr: true }, message: 'invalid port value type: boolean', key: 'addr' },
  { name: 'object with an addr out of range', proto: 'tcp', entry: { addr: 70000, tls: true }, message: 'port out of range (1-65535): 70000', key: 'addr' },
  { name: 'object with an unknown key', proto: 'tcp', entry: { addr: 9100, ssl: true }, message: 'unknown key: ssl', key: 'ssl' },
  { name: 'object with a string tls', proto: 'tcp', entry: { addr: 9100, tls: 'yes' }, message: 'tls must be a boolean, got string', key: 'tls' },
  {
    name: 'object with PROXY version 3', proto: 'tcp', entry: { addr: 9100, proxy_protocol_to_upstream_version: 3 },
    message: 'proxy_protocol_to_upstream_version must be 1 or 2, got 3', key: 'proxy_protocol_to_upstream_version',
  },
];

for (const c of bad) {
  test(`listener entry ${c.proto} ${JSON.stringify(c.entry)} is rejected: ${c.name}`, (t: TestContext) => {
    t.plan(3);
    let err: unknown;
    try {
      parseListenerEntry(c.entry, c.proto, 'conf/config.yaml:5');
    } catch (e) {
      err = e;
    }
    t.assert.ok(err instanceof ListenerEntryError, `threw ${String(err)}`);
    t.assert.strictEqual(err.message, c.message);
    t.assert.strictEqual(err.key, c.key);
  });
}

const addrs: { host: string | null; port: number; want: string }[] = [
  { host: null, port: 9100, want: '*:9100' },
  { host: '127.0.0.1', port: 9101, want: '127.0.0.1:9101' },
  { host: '::1', port: 9102, want: '[::1]:9102' },
  { host: '::', port: 9103, want: '[::]:9103' },
];

for (const c of addrs) {
  test(`listenerAddr(${String(c.host)}, ${c.port}) is ${c.want}`, (t: TestContext) => {
    t.plan(1);
    t.assert.strictEqual(listenerAddr(c), c.want);
  });
}
