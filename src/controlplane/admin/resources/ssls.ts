// /apisix/admin/ssls: APISIX's ssl resource. Certificates and keys must parse and pair up; private keys are
// encrypted at rest with the keyring (apisix.data_encryption) and never returned by any answer.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { check } from '../../../lib/jsonschema.ts';
import { sslNotForStreams } from '../../schema/l4-only.ts';
import type { Keyring } from '../../../lib/keyring.ts';
import { sslSchema } from '../../schema/apisix.ts';
import { isJsonObject, type JsonObject } from '../../store/store.ts';
import { adminError } from '../errors.ts';
import type { ResourceDef } from '../resource.ts';

const SECRET_REF = /^\$(secret|env|ENV):\/\//;

function describe(err: unknown): string {
  return (err as Error).message.replace(/^error:[0-9A-F]+:/, '').split('\n')[0] ?? 'unknown error';
}

/** Parses a cert and its key and checks they belong together; `which` names them in messages (`cert`, `certs[1]`). */
export function checkPair(cert: unknown, key: unknown, keyring: Keyring, which: { cert: string; key: string }): void {
  if (typeof cert !== 'string' || typeof key !== 'string') return;
  if (SECRET_REF.test(cert) || SECRET_REF.test(key)) throw adminError('SSL_SECRET_REF', { field: which.cert });
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw adminError('SSL_BAD_CERT', { field: which.cert, reason: describe(err) });
  }
  const plain = keyring.decrypt(key);
  if (plain === undefined) throw adminError('SSL_UNDECRYPTABLE', { field: which.key });
  let pkey;
  try {
    pkey = createPrivateKey(plain);
  } catch (err) {
    throw adminError('SSL_BAD_KEY', { field: which.key, reason: describe(err) });
  }
  if (!x509.checkPrivateKey(pkey)) throw adminError('SSL_KEY_MISMATCH', { field: which.key });
}

/**
 * The stored form of a private key: encrypted with the keyring's first key. A value already encrypted (a PATCH
 * keeps the stored one) is decrypted first, so that any write of an item moves its keys to the current first key:
 * that is what lets an operator drop an old key after rotating (docs/tls.md). The checks have already proved that
 * the value decrypts; if it did not, it is kept as it is.
 */
export function storedKey(keyring: Keyring, k: string): string {
  if (!keyring.enabled) return k; // encryption off: a new key stays as sent, a stored one stays encrypted
  const plain = keyring.decrypt(k);
  return plain === undefined ? k : keyring.encrypt(plain);
}

function encryptAll(conf: JsonObject, keyring: Keyring): JsonObject {
  const out = { ...conf };
  if (typeof out.key === 'string') out.key = storedKey(keyring, out.key);
  if (Array.isArray(out.keys)) out.keys = out.keys.map((k) => (typeof k === 'string' ? storedKey(keyring, k) : k));
  return out;
}

export function sslsResource(keyring: Keyring): ResourceDef {
  return {
    name: 'ssls',
    kind: 'ssl',
    validate: (conf) => check(sslSchema, conf),
    check(_id, ssl) {
      const l4 = sslNotForStreams(ssl);
      if (l4 !== undefined) throw adminError('INVALID_CONF', { reason: l4 });
      const certs = Array.isArray(ssl.certs) ? ssl.certs : [];
      const keys = Array.isArray(ssl.keys) ? ssl.keys : [];
      if (certs.length !== keys.length) throw adminError('SSL_CERTS_KEYS_COUNT');
      checkPair(ssl.cert, ssl.key, keyring, { cert: 'cert', key: 'key' });
      certs.forEach((c, i) => checkPair(c, keys[i], keyring, { cert: `certs[${i}]`, key: `keys[${i}]` }));
      const client = ssl.client;
      if (client !== null && typeof client === 'object' && !Array.isArray(client) && typeof client.ca === 'string') {
        try {
          new X509Certificate(client.ca);
        } catch (err) {
          throw adminError('SSL_BAD_CERT', { field: 'client.ca', reason: describe(err) });
        }
      }
      return Promise.resolve();
    },
    beforeStore: (conf) => encryptAll(conf, keyring),
    present: (value) => {
      const { key: _key, keys: _keys, ...rest } = value;
      return rest;
    },
    async deleteCheck(id, refs) {
      for (const res of ['upstreams', 'services', 'stream_routes'] as const) {
        for (const [itemId, v] of await refs.all(res)) {
          const up = res === 'upstreams' ? v : v.upstream;
          const tls = up !== null && typeof up === 'object' && !Array.isArray(up) ? (up).tls : undefined;
          const cid = tls !== null && typeof tls === 'object' && !Array.isArray(tls) ? (tls).client_cert_id : undefined;
          if ((typeof cid === "string" || typeof cid === "number") && String(cid) === id) {
            throw adminError('SSL_IN_USE', { kind: res === 'stream_routes' ? 'stream_route' : res.slice(0, -1), id: itemId });
          }
        }
      }
    },
  };
}

/** An upstream object with its `tls.client_key` mapped (dropped when `f` answers undefined); others as they are. */
function mapClientKey(up: unknown, f: (k: string) => string | undefined): unknown {
  if (up === null || typeof up !== 'object' || Array.isArray(up)) return up;
  const tls = (up as JsonObject).tls;
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls) || typeof (tls).client_key !== 'string') return up;
  const newKey = f((tls).client_key);
  const newTls: JsonObject = { ...(tls) };
  if (newKey === undefined) delete newTls.client_key;
  else newTls.client_key = newKey;
  return { ...(up as JsonObject), tls: newTls };
}

/** traffic-split's inline upstreams (plugins.traffic-split.rules[].weighted_upstreams[].upstream), each mapped. */
function mapSplitUpstreams(plugins: unknown, f: (up: unknown) => unknown): unknown {
  if (!isJsonObject(plugins) || !isJsonObject(plugins['traffic-split']) || !Array.isArray(plugins['traffic-split'].rules)) return plugins;
  const split = plugins['traffic-split'];
  const rules = (split.rules as unknown[]).map((r) => {
    if (!isJsonObject(r) || !Array.isArray(r.weighted_upstreams)) return r;
    return { ...r, weighted_upstreams: r.weighted_upstreams.map((w) => (isJsonObject(w) && w.upstream !== undefined ? { ...w, upstream: f(w.upstream) } : w)) };
  });
  return { ...plugins, 'traffic-split': { ...split, rules } };
}

/**
 * For resources that carry upstreams (upstreams; services and stream routes: their `upstream` and traffic-split's
 * inline ones): encrypt `tls.client_key` at rest and never return it.
 */
export function upstreamKeyHooks(keyring: Keyring, nested: boolean): Pick<ResourceDef, 'beforeStore' | 'present'> {
  const map = (conf: JsonObject, f: (k: string) => string | undefined): JsonObject => {
    if (!nested) return mapClientKey(conf, f) as JsonObject;
    const out: JsonObject = { ...conf };
    if (conf.upstream !== undefined) out.upstream = mapClientKey(conf.upstream, f) as JsonObject;
    if (conf.plugins !== undefined) out.plugins = mapSplitUpstreams(conf.plugins, (up) => mapClientKey(up, f)) as JsonObject;
    return out;
  };
  return {
    beforeStore: (conf) => map(conf, (k) => storedKey(keyring, k)),
    present: (value) => map(value, () => undefined),
  };
}
