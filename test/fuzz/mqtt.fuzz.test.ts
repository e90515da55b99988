import { test, type TestContext } from 'node:test';
import { fuzzMqtt } from './mqtt.fuzz.ts';

test('MQTT CONNECT reader: 10k fuzzed inputs, no throw, no hang, every rejection with a reason', (t: TestContext) => {
  t.plan(4);
  const r = fuzzMqtt(10_000, 12, 1000);
  t.assert.deepStrictEqual(r.failures, []);
  t.assert.ok(r.ok > 100, `valid packets were generated (${r.ok})`);
  t.assert.ok(r.bad > 100, `malformed ones too (${r.bad})`);
  t.assert.ok(r.needMore > 100, `and truncated ones (${r.needMore})`);
});
