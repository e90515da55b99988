// Regression (issue 14, found by the log-formats fuzz target): a log_format key `__proto__` (a JSON body's
// `{"log_format": {"__proto__": ...}}` has it as an own key, and the schema only asks for an object) was assigned
// with `entry[key] = value`: a string or number value was dropped, and an object value became the prototype of the
// entry, so the syslog line lost the key. It is now a key of the entry like any other.
import { test, type TestContext } from 'node:test';
import { compileLogFormat } from '../../src/observe/log-format.ts';

test('a log_format key __proto__ is rendered as a key, at the top level and nested', (t: TestContext) => {
  const fmt = JSON.parse('{"__proto__": "$remote_addr", "nested": {"__proto__": {"port": "$server_port"}}, "lit": {"__proto__": 1}}') as Record<string, unknown>;
  const vars: Record<string, string> = { remote_addr: '10.0.0.1', server_port: '9100' };
  const entry = compileLogFormat(fmt)((n) => vars[n]);
  t.assert.equal(JSON.stringify(entry), '{"__proto__":"10.0.0.1","nested":{"__proto__":{"port":"9100"}},"lit":{"__proto__":1}}');
  t.assert.equal(Object.getPrototypeOf((entry as { nested: object }).nested), Object.prototype);
});
