/**
 * Hashing of bearer secrets. Secrets are random and high-entropy, so a plain sha256 is enough:
 * there is nothing to brute-force, and a slow KDF would only slow every authenticated request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The sha256 of `value` (UTF-8) as lowercase hex; the only form in which secrets are stored. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Compares two sha256 hex digests in constant time. Malformed input compares unequal instead of
 * throwing, because timingSafeEqual throws on length mismatch and callers treat both the same.
 */
export function digestsEqual(a: string, b: string): boolean {
  if (!SHA256_HEX.test(a) || !SHA256_HEX.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
