// Writes one stream route (id 1, every client, roundrobin to one node) into an embedded store directory, and with a
// certificate and key also an SSL object for SNI `*` (for TLS listeners).
// usage: node bench/seed-route.ts <data_dir> <host:port> [cert.pem key.pem]
// SLUICE_ROUTE_PLUGINS (JSON object, optional): the route's plugins, e.g. '{"ip-restriction":{"whitelist":["127.0.0.0/8"]}}'.
import { readFileSync } from 'node:fs';
import { EmbeddedStore } from '../src/controlplane/store/embedded.ts';
import type { JsonObject } from '../src/controlplane/store/store.ts';

const [dir, node, certFile, keyFile] = process.argv.slice(2);
if (dir === undefined || node === undefined) {
  process.stderr.write('usage: seed-route.ts <data_dir> <host:port>\n');
  process.exit(2);
}
const store = new EmbeddedStore({ dir });
const now = Math.floor(Date.now() / 1000);
const plugins = process.env.SLUICE_ROUTE_PLUGINS !== undefined && process.env.SLUICE_ROUTE_PLUGINS !== ''
  ? JSON.parse(process.env.SLUICE_ROUTE_PLUGINS) as JsonObject : undefined;
await store.put('/apisix/stream_routes/1', {
  id: '1', create_time: now, update_time: now, ...(plugins !== undefined ? { plugins } : {}),
  upstream: { nodes: { [node]: 1 }, type: 'roundrobin', hash_on: 'vars', scheme: 'http', pass_host: 'pass' },
});
if (certFile !== undefined && keyFile !== undefined) {
  await store.put('/apisix/ssls/1', {
    id: '1', create_time: now, update_time: now, type: 'server', status: 1, snis: ['*', 'test.com'],
    cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'),
  });
}
await store.close();
