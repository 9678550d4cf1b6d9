/**
 * Join tokens in kubeadm's bootstrap-token format, `id.secret`: the id is public (it names the
 * token in lists and logs), the secret is shown once and stored only as a sha256 hash.
 */
import { randomInt } from 'node:crypto';
import { BallastError } from '../../../shared/src/errors.js';
import { sha256Hex } from './hash.js';

/** `[a-z0-9]{6}.[a-z0-9]{16}`, anchored. */
export const JOIN_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A join token split into its parts; `token` is the string a user types. */
export interface JoinToken {
  id: string;
  secret: string;
  token: string;
}

/** A new random token. randomInt draws without modulo bias, so every character is uniform. */
export function generateJoinToken(): JoinToken {
  const id = randomString(6);
  const secret = randomString(16);
  return { id, secret, token: `${id}.${secret}` };
}

/**
 * Splits a token into id and secret. Throws BALLAST_ERR_TOKEN_INVALID naming the expected format;
 * the input is not echoed because it may be a real secret with a typo.
 */
export function parseJoinToken(value: string): JoinToken {
  if (!JOIN_TOKEN_PATTERN.test(value)) {
    throw new BallastError(
      'BALLAST_ERR_TOKEN_INVALID',
      'failed to parse join token: expected the format [a-z0-9]{6}.[a-z0-9]{16} (e.g. abcdef.0123456789abcdef)',
    );
  }
  // The pattern fixes the layout: six characters, a dot, sixteen characters.
  return { id: value.slice(0, 6), secret: value.slice(7), token: value };
}

/** The stored form of a join token's secret. */
export function hashJoinSecret(secret: string): string {
  return sha256Hex(secret);
}

function randomString(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
