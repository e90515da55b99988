// Encryption of private keys at rest (apisix.data_encryption): AES-256-GCM with a key derived (SHA-256) from each
// keyring entry. The first entry encrypts; every entry is tried to decrypt, so a keyring can be rotated by putting
// the new key first and keeping the old ones until every item has been written again.
// Stored form: `sluice:aes-256-gcm:v1:` + base64(iv[12] | tag[16] | ciphertext).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const ENCRYPTED_PREFIX = 'sluice:aes-256-gcm:v1:';

export class Keyring {
  readonly #keys: readonly Buffer[];
  readonly #entries: readonly string[];
  readonly enabled: boolean;

  constructor(entries: readonly string[], enabled = true) {
    this.#entries = entries;
    this.#keys = entries.map((e) => createHash('sha256').update(e, 'utf8').digest());
    this.enabled = enabled && this.#keys.length > 0;
  }

  static isEncrypted(v: string): boolean {
    return v.startsWith(ENCRYPTED_PREFIX);
  }

  encrypt(plain: string): string {
    const key = this.#keys[0];
    if (!this.enabled || key === undefined || Keyring.isEncrypted(plain)) return plain;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ENCRYPTED_PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /**
   * Plain text for an encrypted value; a PEM in clear is returned as it is; undefined if no key fits.
   * Also reads what APISIX writes (AES-128-CBC, key = iv = the keyring entry, base64), so that keys written by
   * APISIX into a shared etcd work here.
   */
  decrypt(v: string): string | undefined {
    if (!Keyring.isEncrypted(v)) return v.includes('-----BEGIN') ? v : this.#decryptApisix(v);
    const raw = Buffer.from(v.slice(ENCRYPTED_PREFIX.length), 'base64');
    if (raw.length < 28) return undefined;
    const iv = raw.subarray(0, 12);
    const tag = raw.subarray(12, 28);
    const ct = raw.subarray(28);
    for (const key of this.#keys) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, iv);
        d.setAuthTag(tag);
        return Buffer.concat([d.update(ct), d.final()]).toString('utf8');
      } catch {
        // wrong key: try the next one
      }
    }
    return undefined;
  }

  #decryptApisix(v: string): string | undefined {
    if (!/^[A-Za-z0-9+/=\s]+$/.test(v)) return v;
    const raw = Buffer.from(v, 'base64');
    if (raw.length === 0 || raw.length % 16 !== 0) return v;
    for (const entry of this.#entries) {
      const k = Buffer.from(entry, 'utf8').subarray(0, 16);
      if (k.length !== 16) continue;
      try {
        const d = createDecipheriv('aes-128-cbc', k, k);
        const plain = Buffer.concat([d.update(raw), d.final()]).toString('utf8');
        if (plain.includes('-----BEGIN')) return plain;
      } catch {
        // not this key
      }
    }
    return undefined;
  }
}
