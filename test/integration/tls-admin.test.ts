// The ssls resource (issue 6, CONTRACT §3): APISIX's envelopes; sni or snis required for server certificates;
// certificates and keys must parse and pair up; client_cert_id must name a `type: client` SSL; private keys
// (ssls key/keys, upstream tls.client_key) are never returned and never on disk in plain text.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/controlplane/config/load.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { startGateway } from '../../src/process/gateway.ts';
import { adminRequest, baseConfig, makePrefix, startTestGateway, type AdminReply, type TestGateway } from '../fixtures/gateway.ts';
import { item, listOf, type Obj } from '../fixtures/admin-helpers.ts';
import { sslBody, testCerts, tlsAsk, type Pem } from '../fixtures/certs.ts';
import { rawFiles } from '../fixtures/data-dir.ts';
import { scriptedUpstream } from '../fixtures/upstream-helpers.ts';

const certs = testCerts();
const S = certs.server;

/** `pem` with one base64 line replaced: still PEM-shaped (passes the schema), no longer parses. */
function corrupt(pemText: string): string {
  const lines = pemText.split('\n');
  lines[1] = 'A'.repeat(64);
  return lines.join('\n');
}

/** The base64 body of a PEM key: a leak check that does not depend on the `PRIVATE KEY` armor. */
function keyBody(pem: Pem): string {
  return pem.key.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('');
}

test('ssls: PUT creates (201) then replaces (200), GET one and list, POST makes a 20-digit id, DELETE, then 404', async (t: TestContext) => {
  t.plan(14);
  const g = await startTestGateway(t);
  const created = await g.admin('PUT', '/apisix/admin/ssls/1', sslBody(S.exact, 'test.com', { labels: { env: 'test' } }));
  t.assert.strictEqual(created.status, 201);
  const v = item(created).value as Obj;
  t.assert.deepStrictEqual(
    { key: (created.json as Obj).key, cert: v.cert, sni: v.sni, id: v.id, type: v.type, status: v.status, labels: v.labels },
    { key: '/apisix/ssls/1', cert: S.exact.cert, sni: 'test.com', id: '1', type: 'server', status: 1, labels: { env: 'test' } },
  );
  t.assert.ok(typeof v.create_time === 'number' && v.create_time === v.update_time, 'create_time and update_time are set');
  const replaced = await g.admin('PUT', '/apisix/admin/ssls/1', sslBody(S.exact, ['test.com', 'www.test.com']));
  t.assert.strictEqual(replaced.status, 200);
  t.assert.deepStrictEqual((item(replaced).value as Obj).snis, ['test.com', 'www.test.com']);
  const one = await g.admin('GET', '/apisix/admin/ssls/1');
  t.assert.strictEqual(one.status, 200);
  t.assert.deepStrictEqual(Object.keys(one.json as Obj).sort(), ['createdIndex', 'key', 'modifiedIndex', 'value']);
  const posted = await g.admin('POST', '/apisix/admin/ssls', sslBody(S.a, 'a.test.com'));
  t.assert.strictEqual(posted.status, 201);
  t.assert.match(String((item(posted).value as Obj).id), /^\d{20}$/);
  const list = listOf(await g.admin('GET', '/apisix/admin/ssls'));
  t.assert.strictEqual(list.total, 2);
  const del = await g.admin('DELETE', '/apisix/admin/ssls/1');
  t.assert.strictEqual(del.status, 200);
  t.assert.deepStrictEqual(del.json, { deleted: '1', key: '/apisix/ssls/1' });
  const gone = await g.admin('GET', '/apisix/admin/ssls/1');
  t.assert.strictEqual(gone.status, 404);
  t.assert.deepStrictEqual(gone.json, { message: 'Key not found' });
});

const rejections: { name: string; body: () => Obj; error: string | RegExp }[] = [
  { name: 'a server certificate without sni or snis', body: () => ({ cert: S.exact.cert, key: S.exact.key }), error: 'invalid configuration: then clause did not match' },
  { name: 'type server spelled out, without sni', body: () => ({ type: 'server', cert: S.exact.cert, key: S.exact.key }), error: 'invalid configuration: then clause did not match' },
  { name: 'a certificate that does not parse', body: () => ({ cert: corrupt(S.exact.cert), key: S.exact.key, sni: 'test.com' }), error: /^failed to parse cert: ./ },
  { name: 'a key that does not parse', body: () => ({ cert: S.exact.cert, key: corrupt(S.exact.key), sni: 'test.com' }), error: /^failed to parse key: ./ },
  { name: 'a key that is not the certificate\'s', body: () => ({ cert: S.exact.cert, key: S.a.key, sni: 'test.com' }), error: 'the private key in key does not match its certificate' },
  { name: 'more certs than keys', body: () => sslBody(S.exact, 'test.com', { certs: [S.a.cert], keys: [] }), error: 'mismatched number of certs and keys' },
  { name: 'more keys than certs', body: () => sslBody(S.exact, 'test.com', { certs: [], keys: [S.a.key] }), error: 'mismatched number of certs and keys' },
  { name: 'certs[0] with keys[0] of another certificate', body: () => sslBody(S.exact, 'test.com', { certs: [S.a.cert], keys: [S.b.key] }), error: 'the private key in keys[0] does not match its certificate' },
  { name: 'a client CA that does not parse', body: () => sslBody(S.exact, 'test.com', { client: { ca: corrupt(certs.ca.cert) } }), error: /^failed to parse client\.ca: ./ },
  { name: 'a client certificate whose key is another one\'s', body: () => ({ type: 'client', cert: certs.client.good.cert, key: certs.client.foreign.key }), error: 'the private key in key does not match its certificate' },
];

for (const r of rejections) {
  test(`ssls: 400 for ${r.name}, and nothing is stored`, async (t: TestContext) => {
    t.plan(3);
    const g = await startTestGateway(t);
    const res = await g.admin('PUT', '/apisix/admin/ssls/1', r.body());
    t.assert.strictEqual(res.status, 400);
    const msg = (res.json as { error_msg?: string } | undefined)?.error_msg ?? '';
    if (typeof r.error === 'string') t.assert.strictEqual(msg, r.error);
    else t.assert.match(msg, r.error);
    t.assert.strictEqual((await g.admin('GET', '/apisix/admin/ssls/1')).status, 404);
  });
}

test('ssls: a type client SSL needs no sni; type server with snis, and with a client CA, are accepted', async (t: TestContext) => {
  t.plan(3);
  const g = await startTestGateway(t);
  t.assert.strictEqual((await g.admin('PUT', '/apisix/admin/ssls/c', { type: 'client', cert: certs.client.good.cert, key: certs.client.good.key })).status, 201);
  t.assert.strictEqual((await g.admin('PUT', '/apisix/admin/ssls/s', sslBody(S.wild, ['*.test.com', 'test.com']))).status, 201);
  t.assert.strictEqual((await g.admin('PUT', '/apisix/admin/ssls/m', sslBody(S.mtls, 'mtls.test.com', { client: { ca: certs.ca.cert, depth: 2 } }))).status, 201);
});

/** The three resources that carry an upstream, and how each wraps one. */
const carriers: { name: string; wrap: (up: Obj) => Obj; up: (v: Obj) => Obj }[] = [
  { name: 'upstreams', wrap: (up) => up, up: (v) => v },
  { name: 'services', wrap: (up) => ({ upstream: up }), up: (v) => v.upstream as Obj },
  { name: 'stream_routes', wrap: (up) => ({ upstream: up }), up: (v) => v.upstream as Obj },
];

for (const c of carriers) {
  test(`${c.name}: tls.client_cert_id must name a type client SSL (404 text, wrong type text), and then it is accepted`, async (t: TestContext) => {
    t.plan(6);
    const g = await startTestGateway(t);
    await g.admin('PUT', '/apisix/admin/ssls/srv', sslBody(S.exact, 'test.com'));
    await g.admin('PUT', '/apisix/admin/ssls/cli', { type: 'client', cert: certs.client.good.cert, key: certs.client.good.key });
    const up = (id: string): Obj => c.wrap({ type: 'roundrobin', scheme: 'tls', nodes: { '127.0.0.1:1995': 1 }, tls: { client_cert_id: id } });
    const missing = await g.admin('PUT', `/apisix/admin/${c.name}/1`, up('nope'));
    t.assert.strictEqual(missing.status, 400);
    t.assert.deepStrictEqual(missing.json, { error_msg: 'failed to fetch ssl info by ssl id [nope], response code: 404' });
    const wrong = await g.admin('PUT', `/apisix/admin/${c.name}/1`, up('srv'));
    t.assert.strictEqual(wrong.status, 400);
    t.assert.deepStrictEqual(wrong.json, { error_msg: 'failed to fetch ssl info by ssl id [srv], wrong ssl type' });
    const ok = await g.admin('PUT', `/apisix/admin/${c.name}/1`, up('cli'));
    t.assert.strictEqual(ok.status, 201);
    t.assert.strictEqual((c.up(item(ok).value as Obj).tls as Obj).client_cert_id, 'cli');
  });
}

/** Paths of every `keys`/`client_key` field, and of every `key` that is not an envelope's `/apisix/...` key. */
function secretFields(v: unknown, at = ''): string[] {
  if (v === null || typeof v !== 'object') return [];
  const out: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    const p = `${at}.${k}`;
    if (k === 'keys' || k === 'client_key' || (k === 'key' && !(typeof x === 'string' && x.startsWith('/apisix/')))) out.push(p);
    out.push(...secretFields(x, p));
  }
  return out;
}

for (const c of carriers) {
  test(`${c.name}: inline tls.client_cert/client_key must parse and pair up`, async (t: TestContext) => {
    const cases = [
      { tls: { client_cert: certs.client.good.cert, client_key: certs.client.foreign.key }, error: 'the private key in tls.client_key does not match its certificate' },
      { tls: { client_cert: corrupt(certs.client.good.cert), client_key: certs.client.good.key }, error: /^failed to parse tls\.client_cert: ./ },
      { tls: { client_cert: certs.client.good.cert, client_key: corrupt(certs.client.good.key) }, error: /^failed to parse tls\.client_key: ./ },
    ];
    t.plan(cases.length * 2);
    const g = await startTestGateway(t);
    for (const k of cases) {
      const r = await g.admin('PUT', `/apisix/admin/${c.name}/1`, c.wrap({ type: 'roundrobin', scheme: 'tls', nodes: { '127.0.0.1:1995': 1 }, tls: k.tls }));
      t.assert.strictEqual(r.status, 400);
      const msg = (r.json as { error_msg?: string } | undefined)?.error_msg ?? '';
      if (typeof k.error === 'string') t.assert.strictEqual(msg, k.error);
      else t.assert.match(msg, k.error);
    }
  });
}

/** Every Admin API answer a client can get for what `fill` wrote. */
async function everyAnswer(g: TestGateway, writes: readonly string[]): Promise<string[]> {
  const out = [...writes];
  for (const res of ['ssls', 'upstreams', 'services', 'stream_routes']) {
    const list = await g.admin('GET', `/apisix/admin/${res}`);
    out.push(list.text);
    for (const it of listOf(list).list) out.push((await g.admin('GET', `/apisix/admin/${res}/${String((it.value as Obj).id)}`)).text);
  }
  return out;
}

test('private keys are never returned (PUT, POST, PATCH, GET one, list) and the data dir holds none in plain text', async (t: TestContext) => {
  const g = await startTestGateway(t);
  const tlsUp = (pem: Pem): Obj => ({ type: 'roundrobin', scheme: 'tls', nodes: { '127.0.0.1:1995': 1 }, tls: { client_cert: pem.cert, client_key: pem.key } });
  const writes = [
    await g.admin('PUT', '/apisix/admin/ssls/1', sslBody(S.exact, 'test.com', { certs: [S.a.cert], keys: [S.a.key] })),
    await g.admin('POST', '/apisix/admin/ssls', sslBody(S.b, 'b.test.com')),
    await g.admin('PUT', '/apisix/admin/ssls/c', { type: 'client', cert: certs.client.deep.cert, key: certs.client.deep.key }),
    await g.admin('PATCH', '/apisix/admin/ssls/1', { desc: 'patched' }),
    await g.admin('PATCH', '/apisix/admin/ssls/1', { cert: S.exact2.cert, key: S.exact2.key }),
    await g.admin('PUT', '/apisix/admin/upstreams/1', tlsUp(certs.client.good)),
    await g.admin('PATCH', '/apisix/admin/upstreams/1', { desc: 'patched' }),
    await g.admin('PUT', '/apisix/admin/services/1', { upstream: tlsUp(certs.client.good) }),
    await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: tlsUp(certs.client.good) }),
  ];
  const bodies = await everyAnswer(g, writes.map((w) => w.text));
  const used = [S.exact, S.a, S.b, S.exact2, certs.client.deep, certs.client.good];
  t.plan(writes.length + bodies.length * 2 + 4);
  for (const w of writes) t.assert.ok(w.status === 200 || w.status === 201, `write accepted: ${w.status} ${w.text.slice(0, 200)}`);
  for (const b of bodies) {
    t.assert.ok(!b.includes('PRIVATE KEY'), `no PEM key in ${b.slice(0, 120)}`);
    t.assert.deepStrictEqual(secretFields(JSON.parse(b)), [], 'no key, keys or client_key (`key` only as the envelope\'s /apisix/... key)');
  }
  const ssl1 = item(await g.admin('GET', '/apisix/admin/ssls/1')).value as Obj;
  t.assert.deepStrictEqual([ssl1.key, ssl1.keys, ssl1.cert], [undefined, undefined, S.exact2.cert], 'the patched cert is there, its key is not');
  const raw = rawFiles(path.join(g.prefix, 'data'));
  t.assert.ok(raw.length > 0 && raw.includes('test.com'), 'the store files were read and hold the items');
  t.assert.ok(!raw.includes('PRIVATE KEY'), 'no PEM private key under the data dir');
  t.assert.deepStrictEqual(used.filter((p) => raw.includes(keyBody(p).slice(0, 40))).map((p) => p.certFile), [], 'no key body either');
});

const KEY_A = 'keyring-entry-A-0123456789';
const KEY_B = 'keyring-entry-B-0123456789';

function configWithKeyring(keyring: readonly string[]): string {
  const base = baseConfig() as { apisix: Obj };
  return stringify({ ...base, apisix: { ...base.apisix, data_encryption: { keyring } } });
}

interface Running {
  readonly tlsPort: number;
  admin(method: string, urlPath: string, body?: unknown): Promise<AdminReply>;
  close(): Promise<void>;
}

/** A gateway on `prefix` (its store included) with a TLS listener on port 0; stopped by close() or in t.after. */
async function gatewayOn(t: TestContext, prefix: string, keyring: readonly string[]): Promise<Running> {
  writeFileSync(path.join(prefix, 'conf', 'config.yaml'), configWithKeyring(keyring));
  const fromFile = loadConfig({ prefix });
  const loaded = {
    ...fromFile,
    listeners: [...fromFile.listeners, {
      proto: 'tcp' as const, host: '127.0.0.1', port: 0, tls: true, proxyProtocol: false, proxyProtocolToUpstream: false,
      proxyProtocolToUpstreamVersion: 1 as const, source: 'test',
    }],
  };
  const gw = await startGateway({ loaded, log: silentLogger() });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= gw.close());
  t.after(close);
  const adminUrl = `http://127.0.0.1:${gw.admin?.port ?? 0}`;
  return { tlsPort: gw.port('tcp', '127.0.0.1', 0, 'test'), admin: (m, p, b) => adminRequest(adminUrl, m, p, b), close };
}

test('keyring rotation: keys written with [A] are served after a restart with [B, A], not with [B]; any write moves them to B', async (t: TestContext) => {
  t.plan(9);
  const echo = await scriptedUpstream(t, (s) => { s.pipe(s); });
  const prefix = makePrefix(t, {}, configWithKeyring([KEY_A]));
  const hello = async (g: Running): Promise<string> => {
    const r = await tlsAsk(g.tlsPort, { servername: 'test.com', ca: certs.ca.cert, send: 'ping', until: 4 });
    return r.fingerprint === S.exact.fingerprint ? r.data : `no handshake (${r.error ?? 'closed'})`;
  };

  const a = await gatewayOn(t, prefix, [KEY_A]);
  t.assert.strictEqual((await a.admin('PUT', '/apisix/admin/ssls/1', sslBody(S.exact, 'test.com'))).status, 201);
  t.assert.strictEqual((await a.admin('PUT', '/apisix/admin/stream_routes/1', { upstream: { type: 'roundrobin', nodes: { [echo.node]: 1 } } })).status, 201);
  t.assert.strictEqual(await hello(a), 'ping', 'served with keyring [A]');
  await a.close();

  const b = await gatewayOn(t, prefix, [KEY_B]);
  t.assert.match(await hello(b), /^no handshake/, 'keyring [B] cannot decrypt what [A] wrote: the SSL is not used');
  await b.close();

  const ba = await gatewayOn(t, prefix, [KEY_B, KEY_A]);
  t.assert.strictEqual(await hello(ba), 'ping', 'served after the restart with keyring [B, A]');
  const patched = await ba.admin('PATCH', '/apisix/admin/ssls/1', { desc: 'written again' });
  t.assert.strictEqual(patched.status, 200);
  t.assert.strictEqual((item(patched).value as Obj).key, undefined);
  await ba.close();

  const b2 = await gatewayOn(t, prefix, [KEY_B]);
  t.assert.strictEqual(await hello(b2), 'ping', 'after a write under [B, A], keyring [B] alone is enough');
  t.assert.strictEqual((await b2.admin('GET', '/apisix/admin/ssls/1')).status, 200);
});
