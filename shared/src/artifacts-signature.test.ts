import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKeyPair, keyId, parsePrivateKey, parsePublicKey, parseSignature, signManifest, verifyManifest } from './artifacts-signature.js';

const MANIFEST = Buffer.from('- name: tool\n  version: 1.0.0\n');

function pair() {
  const p = generateSigningKeyPair();
  const priv = parsePrivateKey(Buffer.from(p.privatePem));
  if ('problem' in priv) throw new Error(priv.problem);
  return { ...p, priv: priv.key, pub: createPublicKey(p.publicPem) };
}

describe('bundle manifest signatures (ed25519)', () => {
  it('signs the exact manifest bytes; one changed byte or another key does not verify', () => {
    const a = pair();
    const b = pair();
    const text = signManifest(MANIFEST, a.priv);
    const sig = parseSignature(text);
    if ('problem' in sig) throw new Error(sig.problem);
    expect(sig.keyId).toBe(a.id);
    expect(verifyManifest(MANIFEST, sig, a.pub)).toBe(true);
    const changed = Buffer.from(MANIFEST);
    changed[changed.length - 2] = 0x31; // 1.0.0 → 1.0.1
    expect(verifyManifest(changed, sig, a.pub)).toBe(false);
    expect(verifyManifest(MANIFEST, sig, b.pub)).toBe(false);
  });

  it('reads a public key as PEM, 32 raw bytes, base64 or hex, all with the same key id', () => {
    const a = pair();
    const raw = Buffer.from(a.pub.export({ format: 'jwk' }).x ?? '', 'base64url');
    for (const form of [Buffer.from(a.publicPem), raw, Buffer.from(`${raw.toString('base64')}\n`), Buffer.from(raw.toString('hex'))]) {
      const parsed = parsePublicKey(form);
      if ('problem' in parsed) throw new Error(parsed.problem);
      expect(keyId(parsed.key)).toBe(a.id);
    }
  });

  it('refuses a private key as a trust key, non-keys, and malformed signature files, saying why', () => {
    const a = pair();
    expect(parsePublicKey(Buffer.from(a.privatePem))).toEqual({ problem: expect.stringContaining('is a private key') });
    expect(parsePublicKey(Buffer.from('hello'))).toEqual({ problem: expect.stringContaining('is not an ed25519 public key') });
    expect(parsePrivateKey(Buffer.from(a.publicPem))).toEqual({ problem: expect.stringContaining('is not a PEM private key') });
    expect(parseSignature('algorithm: rsa\n')).toEqual({ problem: expect.stringContaining('/algorithm') });
    expect(parseSignature('{ unclosed')).toEqual({ problem: expect.stringContaining('not valid YAML') });
    expect(parseSignature('x'.repeat(5000))).toEqual({ problem: expect.stringContaining('larger than') });
  });
});
