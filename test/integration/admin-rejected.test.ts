// A rejected write changes nothing (DESIGN: "never half-applied"): after each refused PUT, POST, PATCH or DELETE,
// every item and every list reads back byte for byte as before, and the store revision has not moved.
import { suite, test, type TestContext } from 'node:test';
import { VIEWER_KEY, startTestGateway } from '../fixtures/gateway.ts';
import { UP, err, must, rejectedWrite, type Rejection } from '../fixtures/admin-helpers.ts';

const SR = '/apisix/admin/stream_routes';
const UPS = '/apisix/admin/upstreams';
const SVC = '/apisix/admin/services';

const BROKEN = '{"service_id": "s1"';

/** The JSON parser's message for `text` (the Admin API passes it on after "invalid request body: "). */
function parseError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

/** Everything the fixture state holds; each case watches all of it. */
const WATCH = [`${UPS}/u1`, `${SVC}/s1`, `${SR}/r1`, `${SR}/r2`, UPS, SVC, SR] as const;

const cases: ReadonlyArray<Rejection & { readonly name: string }> = [
  { name: 'PUT replacing a route with a bad remote_addr', method: 'PUT', path: `${SR}/r1`, body: { remote_addr: 'x', upstream: UP }, status: 400, want: err('invalid configuration: property "remote_addr" validation failed: object matches none of the required') },
  { name: 'PUT replacing a route with an address only the pattern accepts', method: 'PUT', path: `${SR}/r1`, body: { remote_addr: ':/8', upstream: UP }, status: 400, want: err('invalid remote_addr: :/8') },
  { name: 'PUT replacing a route with a missing upstream_id', method: 'PUT', path: `${SR}/r2`, body: { upstream_id: 'nope' }, status: 400, want: err('failed to fetch upstream info by upstream id [nope], response code: 404') },
  { name: 'PUT replacing a route with a missing service_id', method: 'PUT', path: `${SR}/r1`, body: { service_id: 'nope' }, status: 400, want: err('failed to fetch service info by service id [nope], response code: 404') },
  { name: 'PUT replacing a route with a bad plugin', method: 'PUT', path: `${SR}/r1`, body: { service_id: 's1', plugins: { 'ip-restriction': { whitelist: [':/8'] } } }, status: 400, want: err('failed to check the configuration of stream plugin [ip-restriction]: invalid ip address: :/8') },
  { name: 'PUT replacing a route with create_time', method: 'PUT', path: `${SR}/r1`, body: { service_id: 's1', create_time: 1 }, status: 400, want: err('the property is forbidden:  create_time') },
  { name: 'PUT replacing a route with another body id', method: 'PUT', path: `${SR}/r1`, body: { id: 'r2', service_id: 's1' }, status: 400, want: err('wrong stream route id') },
  { name: 'PUT replacing a route with ?ttl=abc', method: 'PUT', path: `${SR}/r1?ttl=abc`, body: { service_id: 's1' }, status: 400, want: err('invalid argument ttl: should be a number') },
  { name: 'PUT replacing a route with a body over 1.5 MiB', method: 'PUT', path: `${SR}/r1`, body: `{"desc":"${'a'.repeat(1572864)}"}`, status: 400, want: err('invalid request body: request size 1572875 is greater than the maximum size 1572864 allowed') },
  { name: 'PUT replacing a route with broken JSON', method: 'PUT', path: `${SR}/r1`, body: BROKEN, status: 400, want: { error_msg: `invalid request body: ${parseError(BROKEN)}`, req_body: BROKEN } },
  { name: 'PUT replacing an upstream with a bad port', method: 'PUT', path: `${UPS}/u1`, body: { nodes: { '127.0.0.1:0': 1 } }, status: 400, want: err('invalid port 0') },
  { name: 'PUT replacing an upstream with chash and no key', method: 'PUT', path: `${UPS}/u1`, body: { ...UP, type: 'chash' }, status: 400, want: err('missing key') },
  { name: 'PUT replacing a service with a missing upstream_id', method: 'PUT', path: `${SVC}/s1`, body: { upstream_id: 'nope' }, status: 400, want: err('failed to fetch upstream info by upstream id [nope], response code: 404') },
  { name: 'POST of a route with sni and snis', method: 'POST', path: SR, body: { sni: 'a.com', snis: ['b.com'], upstream: UP }, status: 400, want: err('sni and snis can not be carried together') },
  { name: 'POST of an upstream with an unknown field', method: 'POST', path: UPS, body: { ...UP, uri: '/' }, status: 400, want: err('invalid configuration: additional properties forbidden, found uri') },
  { name: 'POST to an id', method: 'POST', path: `${SVC}/s1`, body: {}, status: 400, want: err('wrong service id, do not need it') },
  { name: 'PATCH of a route (405)', method: 'PATCH', path: `${SR}/r1`, body: { desc: 'x' }, status: 405, want: err('not supported `PATCH` method for stream route') },
  { name: 'PATCH of an upstream that breaks the schema', method: 'PATCH', path: `${UPS}/u1`, body: { desc: 'changed', retries: -1 }, status: 400, want: err('invalid configuration: property "retries" validation failed: expected -1 to be at least 0') },
  { name: 'PATCH of an upstream sub path with a bad port', method: 'PATCH', path: `${UPS}/u1/nodes`, body: { '127.0.0.1:65536': 1 }, status: 400, want: err('invalid port 65536') },
  { name: 'PATCH of an upstream that changes its id', method: 'PATCH', path: `${UPS}/u1`, body: { id: 'u2' }, status: 400, want: err('wrong upstream id') },
  { name: 'PATCH of an upstream below a scalar', method: 'PATCH', path: `${UPS}/u1/type/x`, body: '"y"', status: 400, want: err('invalid sub-path: /type') },
  { name: 'PATCH of a service to a missing upstream_id', method: 'PATCH', path: `${SVC}/s1`, body: { upstream_id: 'nope' }, status: 400, want: err('failed to fetch upstream info by upstream id [nope], response code: 404') },
  { name: 'PATCH of a missing upstream', method: 'PATCH', path: `${UPS}/u9`, body: { desc: 'x' }, status: 404, want: { message: 'Key not found' } },
  { name: 'DELETE of a service a route uses', method: 'DELETE', path: `${SVC}/s1`, status: 400, want: err('can not delete this service directly, stream_route [r1] is still using it now') },
  { name: 'DELETE of an upstream a route uses', method: 'DELETE', path: `${UPS}/u1`, status: 400, want: err('can not delete this upstream directly, stream_route [r2] is still using it now') },
  { name: 'DELETE of a missing route', method: 'DELETE', path: `${SR}/r9`, status: 404, want: { message: 'Key not found' } },
  { name: 'DELETE with a viewer key', method: 'DELETE', path: `${SR}/r1`, headers: { 'X-API-KEY': VIEWER_KEY }, status: 401, want: { error_msg: 'failed to check token', description: 'invalid method for role viewer' } },
  { name: 'PUT without a key', method: 'PUT', path: `${SR}/r1`, body: { upstream: UP }, headers: { 'X-API-KEY': '' }, status: 401, want: { error_msg: 'failed to check token', description: 'missing apikey' } },
];

suite('rejected writes', { concurrency: 8 }, () => {
  for (const c of cases) {
    test(`a rejected ${c.method} changes nothing: ${c.name}`, async (t: TestContext) => {
      t.plan(3 + WATCH.length);
      const g = await startTestGateway(t);
      await must(g, 'PUT', `${UPS}/u1`, UP);
      await must(g, 'PUT', `${SVC}/s1`, { upstream_id: 'u1' });
      await must(g, 'PUT', `${SR}/r1`, { service_id: 's1', remote_addr: '10.0.0.0/8' });
      await must(g, 'PUT', `${SR}/r2`, { upstream_id: 'u1', server_port: 9100 });
      await rejectedWrite(t, g, c, WATCH);
    });
  }
});

test('an accepted write after rejected ones moves the revision by exactly one', async (t: TestContext) => {
  t.plan(2);
  const g = await startTestGateway(t);
  await must(g, 'PUT', `${UPS}/u1`, UP);
  const rev = await g.gw.store.revision();
  await g.admin('PUT', `${UPS}/u1`, { nodes: { '127.0.0.1:0': 1 } });
  await g.admin('POST', UPS, { ...UP, uri: '/' });
  const ok = await g.admin('PUT', `${UPS}/u1`, { ...UP, desc: 'ok' });
  t.assert.strictEqual(ok.status, 200);
  t.assert.strictEqual(await g.gw.store.revision(), rev + 1);
});
