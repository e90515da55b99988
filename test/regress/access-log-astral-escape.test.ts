// Regression (issue 14, found by the log-formats fuzz target): the access log's `default` escaping went by UTF-16
// code unit, so a character outside the BMP (an emoji in an MQTT client id, which is UTF-8 on the wire) was escaped
// as two lone surrogates, each written as the replacement character: `😀` became \xEF\xBF\xBD\xEF\xBF\xBD and
// was lost. It is now escaped as its UTF-8 bytes, \xF0\x9F\x98\x80, as the other characters above U+00FF are.
import { test, type TestContext } from 'node:test';
import { compileFormat, type AccessRecord } from '../../src/observe/access-log.ts';

const rec: AccessRecord = {
  protocol: 'TCP', remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 1883, status: 200,
  bytesSent: 0, bytesReceived: 0, sessionTime: 0.001, upstreamAddr: undefined, routeId: 'r1', serviceId: undefined,
  sni: undefined, realipRemoteAddr: '127.0.0.1', mqttClientId: 'id-😀-€-é"', endReason: 'client closed', endedAt: 0,
};

test('default escaping writes an astral character as its 4 UTF-8 bytes', (t: TestContext) => {
  t.assert.equal(compileFormat('$mqtt_client_id', 'default').render(rec), 'id-\\xF0\\x9F\\x98\\x80-\\xE2\\x82\\xAC-\\xE9\\x22');
  t.assert.equal(compileFormat('$mqtt_client_id', 'json').render(rec), 'id-😀-€-é\\"');
});
