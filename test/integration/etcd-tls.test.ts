// Issue 9, the config keys for a locked-down etcd: deployment.etcd.host with https, deployment.etcd.tls.cert/key (a
// client certificate, paths relative to the prefix or absolute), apisix.ssl.ssl_trusted_certificate (the CA that signed
// etcd's certificate), deployment.etcd.user/password; and a wrong password keeps the gateway from starting.
import { test, type TestContext } from 'node:test';
import { item } from '../fixtures/admin-helpers.ts';
import { startEtcd, startEtcdGateway } from '../fixtures/etcd.ts';
import { ask, upstream } from '../fixtures/upstream-helpers.ts';

test('etcd over TLS with a client certificate and a user: the gateway syncs, writes and proxies', async (t: TestContext) => {
  t.plan(4);
  const etcd = await startEtcd(t, { tls: true, rootPassword: 'pw-123' });
  const tls = etcd.tls;
  if (tls === undefined) throw new Error('no tls listener');
  const up = await upstream(t);
  await etcd.ctl(['put', '/apisix/upstreams/u', JSON.stringify({ id: 'u', nodes: { [up.node]: 1 }, type: 'roundrobin' })]);
  const g = await startEtcdGateway(t, { url: tls.url }, {
    config: {
      apisix: { ssl: { ssl_trusted_certificate: tls.caFile } },
      deployment: { etcd: { tls: { cert: tls.certFile, key: tls.keyFile }, user: 'root', password: 'pw-123' } },
    },
  });
  const put = await g.admin('PUT', '/apisix/admin/stream_routes/1', { upstream_id: 'u' });
  t.assert.equal(put.status, 201, put.text);
  t.assert.equal((await ask(g.listenerPort())).data, up.node, 'the upstream listed at start and the new route');
  const kv = await etcd.kv('/apisix/stream_routes/1');
  t.assert.equal(item(await g.admin('GET', '/apisix/admin/stream_routes/1')).modifiedIndex, kv?.modRevision);
  await t.assert.rejects(
    () => startEtcdGateway(t, { url: tls.url }, {
      timeout: 0.5,
      config: {
        apisix: { ssl: { ssl_trusted_certificate: tls.caFile } },
        deployment: { etcd: { tls: { cert: tls.certFile, key: tls.keyFile }, user: 'root', password: 'wrong' } },
      },
    }),
    /authentication failed/,
  );
});
