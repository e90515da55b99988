// GET /sluice/v1/openapi.json (CONTRACT §7): served with no key, an OpenAPI 3.1 document that a standard validator
// (@apidevtools/swagger-parser) accepts. That every answer matches it is checked by adminRequest on every Admin API
// test (fixtures/openapi-check.ts); here, that the checker does refuse what the document does not describe.
import { test, type TestContext } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { sluiceOpenApi } from '../../src/process/openapi-route.ts';
import { ERRORS } from '../../src/controlplane/admin/errors.ts';
import { startTestGateway, VIEWER_KEY } from '../fixtures/gateway.ts';
import { checkAnswer, checkedAnswers } from '../fixtures/openapi-check.ts';
import { UP } from '../fixtures/admin-helpers.ts';

const NO_KEY = { 'X-API-KEY': '' };

test('GET /sluice/v1/openapi.json: no key needed, OpenAPI 3.1, accepted by swagger-parser, the document the code builds', async (t: TestContext) => {
  t.plan(8);
  const g = await startTestGateway(t);
  const res = await g.admin('GET', '/sluice/v1/openapi.json', undefined, NO_KEY);
  t.assert.strictEqual(res.status, 200, res.text);
  t.assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  t.assert.strictEqual(res.headers.get('x-api-version'), 'v3');
  t.assert.strictEqual((res.json as { openapi?: unknown }).openapi, '3.1.0');
  t.assert.deepStrictEqual(res.json, sluiceOpenApi());
  // validate() dereferences the object it is given: a copy
  const api = await SwaggerParser.validate(structuredClone(res.json) as SwaggerParser['api']);
  t.assert.ok(api.paths?.['/apisix/admin/stream_routes/{id}'] !== undefined, 'validated');
  // a viewer key, a wrong key: still the document (the key is not looked at)
  t.assert.strictEqual((await g.admin('GET', '/sluice/v1/openapi.json', undefined, { 'X-API-KEY': VIEWER_KEY })).status, 200);
  t.assert.strictEqual((await g.admin('GET', '/sluice/v1/openapi.json', undefined, { 'X-API-KEY': 'wrong' })).status, 200);
});

test('the document lists every error status of the catalog, with its messages', (t: TestContext) => {
  const statuses = [...new Set(Object.values(ERRORS).map((e) => e.status))];
  t.plan(statuses.length);
  const responses = (sluiceOpenApi().components as { responses: Record<string, { description: string }> }).responses;
  for (const s of statuses) {
    const r = Object.values(responses).find((x) => x.description.startsWith(`${s}: `));
    const missing = Object.values(ERRORS).filter((e) => e.status === s && !(r?.description.includes(`\`${e.msg}\``) ?? false));
    t.assert.deepStrictEqual(missing, [], `status ${s}`);
  }
});

test('the answers of one round trip are checked: written, read, listed, deleted, refused', async (t: TestContext) => {
  t.plan(7);
  const g = await startTestGateway(t);
  const before = checkedAnswers();
  t.assert.strictEqual((await g.admin('PUT', '/apisix/admin/upstreams/1', UP)).status, 201);
  t.assert.strictEqual((await g.admin('PATCH', '/apisix/admin/upstreams/1/nodes', { '127.0.0.1:1996': 2 })).status, 200);
  t.assert.strictEqual((await g.admin('GET', '/apisix/admin/upstreams?page=1&page_size=10')).status, 200);
  t.assert.strictEqual((await g.admin('DELETE', '/apisix/admin/upstreams/1')).status, 200);
  t.assert.strictEqual((await g.admin('GET', '/apisix/admin/upstreams/1')).status, 404);
  t.assert.strictEqual((await g.admin('PATCH', '/apisix/admin/stream_routes/1', {})).status, 405);
  t.assert.strictEqual(checkedAnswers() - before, 6);
});

/** An answer as the gateway would send it. */
function answer(status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json', 'x-api-version': 'v3' }): { status: number; headers: Headers; text: string } {
  return { status, headers: new Headers(headers), text: body === undefined ? '' : JSON.stringify(body) };
}

const item = (value: Record<string, unknown>): unknown => ({ key: '/apisix/ssls/1', value: { id: '1', create_time: 1, update_time: 1, ...value }, createdIndex: 1, modifiedIndex: 1 });
const CERT = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(200)}\n-----END CERTIFICATE-----`;

const refusals = [
  { name: 'an undocumented status', method: 'GET', path: '/apisix/admin/stream_routes/1', a: answer(418, { error_msg: 'teapot' }), want: /GET \/apisix\/admin\/stream_routes\/1 → 418: status 418 is not documented/ },
  { name: 'an undocumented path', method: 'GET', path: '/sluice/v1/nothing', a: answer(200, {}), want: /GET \/sluice\/v1\/nothing → 200: the path is not in the document/ },
  { name: 'an undocumented method', method: 'PUT', path: '/sluice/v1/status', a: answer(200, {}), want: /PUT is not documented for \/sluice\/v1\/status/ },
  { name: 'an error without error_msg', method: 'PUT', path: '/apisix/admin/upstreams/1', a: answer(400, { message: 'no' }), want: /→ 400: the body does not match .*error_msg/ },
  { name: 'a private key in an answer', method: 'GET', path: '/apisix/admin/ssls/1', a: answer(200, item({ sni: 'a.test', cert: CERT, key: 'k'.repeat(200) })), want: /\/value must NOT have additional properties.*"additionalProperty":"key"/ },
  { name: 'a list without total', method: 'GET', path: '/apisix/admin/upstreams', a: answer(200, { list: [] }), want: /must have required property 'total'/ },
  { name: 'a missing X-API-VERSION', method: 'GET', path: '/apisix/admin/plugins/list?subsystem=stream', a: answer(200, [], { 'content-type': 'application/json' }), want: /header X-API-VERSION is missing/ },
  { name: 'an undocumented content type', method: 'GET', path: '/sluice/v1/status', a: answer(200, {}, { 'content-type': 'text/plain', 'x-api-version': 'v3' }), want: /content type text\/plain is not documented/ },
  { name: 'a body where none is documented', method: 'POST', path: '/apisix/admin/schema/validate/upstreams', a: answer(200, {}), want: /the document says the body is empty/ },
];

for (const c of refusals) {
  test(`the checker refuses ${c.name}`, (t: TestContext) => {
    t.plan(1);
    t.assert.throws(() => checkAnswer(c.method, c.path, c.a), c.want);
  });
}

test('the checker accepts the answers the document describes, and leaves other paths alone', (t: TestContext) => {
  t.plan(4);
  t.assert.doesNotThrow(() => checkAnswer('GET', '/apisix/admin/ssls/1', answer(200, item({ sni: 'a.test', cert: CERT }))));
  t.assert.doesNotThrow(() => checkAnswer('GET', '/apisix/admin/stream_routes/1', answer(404, { message: 'Key not found' })));
  t.assert.doesNotThrow(() => checkAnswer('PATCH', '/apisix/admin/upstreams/1/tls/verify', answer(400, { error_msg: 'invalid configuration' })));
  t.assert.doesNotThrow(() => checkAnswer('GET', '/apisix/prometheus/metrics', answer(200, 'x', { 'content-type': 'text/plain' })));
});
