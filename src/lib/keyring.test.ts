// Keyring (apisix.data_encryption): AES-256-GCM, the first entry encrypts, every entry is tried to decrypt.
import { test, type TestContext } from 'node:test';
import { ENCRYPTED_PREFIX, Keyring } from './keyring.ts';

const A = 'keyring-entry-A-0123456789';
const B = 'keyring-entry-B-0123456789';
const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

test('encrypt: prefixed, no plain text left, a fresh IV each time; decrypt gives the text back', (t: TestContext) => {
  t.plan(5);
  const k = new Keyring([A]);
  const e1 = k.encrypt(PEM);
  const e2 = k.encrypt(PEM);
  t.assert.ok(e1.startsWith(ENCRYPTED_PREFIX) && Keyring.isEncrypted(e1));
  t.assert.ok(!e1.includes('PRIVATE KEY') && !e1.includes('MIGHAgEAMBMG'), 'nothing of the plain text is visible');
  t.assert.notStrictEqual(e1, e2, 'a random IV per encryption');
  t.assert.strictEqual(k.decrypt(e1), PEM);
  t.assert.strictEqual(k.decrypt(e2), PEM);
});

test('rotation: [B, A] decrypts what [A] wrote and encrypts with B; [B] alone cannot read A\'s, can read B\'s', (t: TestContext) => {
  t.plan(5);
  const byA = new Keyring([A]).encrypt(PEM);
  const rotated = new Keyring([B, A]);
  t.assert.strictEqual(rotated.decrypt(byA), PEM);
  const byB = rotated.encrypt(PEM);
  t.assert.strictEqual(new Keyring([B]).decrypt(byB), PEM, 'the first entry encrypts');
  t.assert.strictEqual(new Keyring([A]).decrypt(byB), undefined, 'A alone cannot read what B wrote');
  t.assert.strictEqual(new Keyring([B]).decrypt(byA), undefined, 'B alone cannot read what A wrote');
  t.assert.strictEqual(new Keyring([]).decrypt(byA), undefined, 'an empty keyring reads nothing encrypted');
});

test('decrypt refuses what was tampered with, or is too short to hold an IV and a tag (undefined, never a throw)', (t: TestContext) => {
  const k = new Keyring([A]);
  const good = k.encrypt(PEM);
  const raw = Buffer.from(good.slice(ENCRYPTED_PREFIX.length), 'base64');
  const flip = (i: number): string => {
    const b = Buffer.from(raw);
    b[i] = (b[i] as number) ^ 1;
    return ENCRYPTED_PREFIX + b.toString('base64');
  };
  const cases = [
    { name: 'a flipped IV byte', v: flip(0) },
    { name: 'a flipped tag byte', v: flip(12) },
    { name: 'a flipped ciphertext byte', v: flip(40) },
    { name: 'ciphertext cut short', v: ENCRYPTED_PREFIX + raw.subarray(0, raw.length - 1).toString('base64') },
    { name: 'only 27 bytes', v: ENCRYPTED_PREFIX + raw.subarray(0, 27).toString('base64') },
    { name: 'nothing after the prefix', v: ENCRYPTED_PREFIX },
    { name: 'not base64', v: `${ENCRYPTED_PREFIX}!!!###` },
  ];
  t.plan(cases.length);
  for (const c of cases) t.assert.strictEqual(k.decrypt(c.v), undefined, c.name);
});

test('plain values: decrypt passes them through; an encrypted value is not encrypted twice', (t: TestContext) => {
  t.plan(3);
  const k = new Keyring([A]);
  t.assert.strictEqual(k.decrypt(PEM), PEM, 'a value stored before encryption was on');
  const e = k.encrypt(PEM);
  t.assert.strictEqual(k.encrypt(e), e);
  t.assert.strictEqual(new Keyring([B]).encrypt(e), e, 'not even by a keyring that cannot read it');
});

test('disabled (enable_encrypt_fields false, or no entries): encrypt is the identity, decrypt still reads', (t: TestContext) => {
  t.plan(5);
  const off = new Keyring([A], false);
  t.assert.strictEqual(off.enabled, false);
  t.assert.strictEqual(off.encrypt(PEM), PEM);
  t.assert.strictEqual(off.decrypt(new Keyring([A]).encrypt(PEM)), PEM, 'keys stored while it was on stay readable');
  const empty = new Keyring([]);
  t.assert.strictEqual(empty.enabled, false);
  t.assert.strictEqual(empty.encrypt(PEM), PEM);
});

test('unicode and empty texts round-trip', (t: TestContext) => {
  const k = new Keyring([A]);
  const cases = ['', 'é∑ – 🔑', 'x'.repeat(70_000)];
  t.plan(cases.length);
  for (const c of cases) t.assert.strictEqual(k.decrypt(k.encrypt(c)), c, `${c.length} chars`);
});
