/**
 * Operator bearer tokens: `blst_` followed by 32 random bytes in base64url (43 characters). The
 * prefix makes a leaked token recognisable to secret scanners; only its sha256 is stored.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from './hash.js';

/** The exact shape of an operator token. */
export const OPERATOR_TOKEN_PATTERN = /^blst_[A-Za-z0-9_-]{43}$/;

/** A new random operator token (256 bits of entropy). */
export function generateOperatorToken(): string {
  return `blst_${randomBytes(32).toString('base64url')}`;
}

/** True if `value` has the shape of an operator token; lets callers reject junk without a lookup. */
export function isOperatorToken(value: string): boolean {
  return OPERATOR_TOKEN_PATTERN.test(value);
}

/** The stored form of an operator token. */
export function hashOperatorToken(token: string): string {
  return sha256Hex(token);
}
