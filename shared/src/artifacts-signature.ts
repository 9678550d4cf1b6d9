/**
 * Signed bundle manifests (issue 16, "artifacts are trusted by construction"). A bundle's tar holds,
 * next to `manifest.yaml`, a detached ed25519 signature `manifest.yaml.sig` over the exact bytes of
 * `manifest.yaml`. The manifest lists every file's sha256, so the signature covers every file.
 *
 * The signature file is a small YAML document:
 *
 *     # Ballast bundle signature: ed25519 over the exact bytes of manifest.yaml
 *     algorithm: ed25519
 *     keyId: <64 hex: sha256 of the raw 32-byte public key>
 *     signature: <base64 of the 64-byte signature>
 *
 * The key id is the sha256 of the raw public key (not of a file encoding), so a key reads the same
 * whether an admin stores it as PEM, raw bytes, base64 or hex; errors name keys by it.
 *
 * Keys: the private key is PKCS#8 PEM (`ballastctl artifacts keygen`, or `openssl genpkey -algorithm
 * ed25519`); a public key is SPKI PEM (`openssl pkey -pubout`), the 32 raw bytes, or those bytes as
 * base64 or hex text. Used by the controller (verify), ballastctl (keygen, sign) and test support.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse } from 'yaml';
import { messageOf } from './errors.js';

/** The signature's member name in a bundle, next to `manifest.yaml`. */
export const BUNDLE_SIGNATURE = 'manifest.yaml.sig';
/** Largest signature file read: the real one is under 300 bytes. */
export const MAX_SIGNATURE_BYTES = 4096;
/** Largest key file read: a PEM ed25519 key is about 120 bytes. */
export const MAX_KEY_FILE_BYTES = 16 * 1024;

/** A public key a controller trusts, with where it came from (for messages). */
export interface TrustKey {
  /** sha256 hex of the raw 32-byte public key. */
  id: string;
  key: KeyObject;
  /** The file it was read from, e.g. /etc/ballast/trust/release.pub. */
  source: string;
}

/** A parsed `manifest.yaml.sig`. */
export interface BundleSignature {
  algorithm: 'ed25519';
  keyId: string;
  signature: Buffer;
}

const SignatureSchema = Type.Object(
  {
    algorithm: Type.Literal('ed25519'),
    keyId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    signature: Type.String({ pattern: '^[A-Za-z0-9+/]{86}==$' }),
  },
  { additionalProperties: false },
);
const checkSignature = TypeCompiler.Compile(SignatureSchema);

/** The key id of an ed25519 public (or private: its public half) key. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(rawPublicKey(pub)).digest('hex');
}

/** The 32 raw bytes of an ed25519 public key. */
function rawPublicKey(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

function fromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * Reads an ed25519 public key from a key file's bytes: SPKI PEM, 32 raw bytes, or base64/hex text
 * of them. Returns why not when the bytes are none of these (a private key is refused: it has no
 * place on the controller).
 */
export function parsePublicKey(data: Buffer): { key: KeyObject } | { problem: string } {
  if (data.length > MAX_KEY_FILE_BYTES) return { problem: `larger than ${MAX_KEY_FILE_BYTES} bytes` };
  const text = data.toString('latin1');
  if (text.includes('PRIVATE KEY-----')) return { problem: 'is a private key; give the public key (the .pub file of `ballastctl artifacts keygen`)' };
  try {
    let key: KeyObject;
    if (text.includes('-----BEGIN')) key = createPublicKey(text);
    else if (data.length === 32) key = fromRaw(data);
    else {
      const t = text.trim();
      const raw = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/]{43}=$/.test(t) ? Buffer.from(t, 'base64') : null;
      if (raw === null || raw.length !== 32) return { problem: 'is not an ed25519 public key (SPKI PEM, 32 raw bytes, or their base64 or hex)' };
      key = fromRaw(raw);
    }
    if (key.asymmetricKeyType !== 'ed25519') return { problem: `is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519` };
    return { key };
  } catch (err) {
    return { problem: `is not an ed25519 public key: ${messageOf(err)}` };
  }
}

/** Reads an ed25519 private key (PKCS#8 PEM). */
export function parsePrivateKey(data: Buffer): { key: KeyObject } | { problem: string } {
  if (data.length > MAX_KEY_FILE_BYTES) return { problem: `larger than ${MAX_KEY_FILE_BYTES} bytes` };
  const text = data.toString('latin1');
  if (!text.includes('PRIVATE KEY-----')) return { problem: 'is not a PEM private key (the .key file of `ballastctl artifacts keygen`)' };
  try {
    const key = createPrivateKey(text);
    if (key.asymmetricKeyType !== 'ed25519') return { problem: `is a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519` };
    return { key };
  } catch (err) {
    return { problem: `is not a usable private key: ${messageOf(err)}` };
  }
}

/** A fresh key pair as PEM text (PKCS#8 private, SPKI public) and its key id. */
export function generateSigningKeyPair(): { privatePem: string; publicPem: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    id: keyId(publicKey),
  };
}

/** The text of `manifest.yaml.sig` for `manifest` (its exact bytes) signed with `privateKey`. */
export function signManifest(manifest: Uint8Array, privateKey: KeyObject): string {
  const signature = sign(null, manifest, privateKey).toString('base64');
  return [
    '# Ballast bundle signature: ed25519 over the exact bytes of manifest.yaml',
    'algorithm: ed25519',
    `keyId: ${keyId(privateKey)}`,
    `signature: ${signature}`,
    '',
  ].join('\n');
}

/** Parses `manifest.yaml.sig`; returns why not when it is malformed. */
export function parseSignature(text: string): BundleSignature | { problem: string } {
  if (Buffer.byteLength(text) > MAX_SIGNATURE_BYTES) return { problem: `larger than ${MAX_SIGNATURE_BYTES} bytes` };
  let doc: unknown;
  try {
    doc = parse(text) as unknown;
  } catch (err) {
    return { problem: `not valid YAML: ${messageOf(err)}` };
  }
  if (!checkSignature.Check(doc)) {
    const all = [...checkSignature.Errors(doc)].slice(0, 4).map((e) => `${e.path || '/'}: ${e.message}`);
    return { problem: `${all.join('; ')} (want algorithm: ed25519, keyId: 64 hex, signature: base64 of 64 bytes)` };
  }
  return { algorithm: doc.algorithm, keyId: doc.keyId, signature: Buffer.from(doc.signature, 'base64') };
}

/** True when `signature` is `key`'s ed25519 signature of exactly `manifest`. */
export function verifyManifest(manifest: Uint8Array, signature: BundleSignature, key: KeyObject): boolean {
  try {
    return verify(null, manifest, key, signature.signature);
  } catch {
    return false; // a malformed signature is simply not a valid one
  }
}
