import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateOperatorToken, hashOperatorToken, isOperatorToken, OPERATOR_TOKEN_PATTERN } from './operator-token.js';

describe('operator tokens', () => {
  it('are blst_ plus 43 base64url characters of 32 random bytes', () => {
    const tokens = Array.from({ length: 100 }, () => generateOperatorToken());
    for (const token of tokens) {
      expect(token).toMatch(OPERATOR_TOKEN_PATTERN);
      expect(token).toHaveLength(5 + 43);
      expect(Buffer.from(token.slice(5), 'base64url')).toHaveLength(32);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('recognises only the exact shape', () => {
    const good = generateOperatorToken();
    expect(isOperatorToken(good)).toBe(true);
    for (const bad of ['', 'blst_', good.slice(0, -1), `${good}A`, good.replace('blst_', 'blsT_'), `${good.slice(0, -1)}=`]) {
      expect(isOperatorToken(bad)).toBe(false);
    }
  });

  it('hashes with sha256 hex', () => {
    const token = generateOperatorToken();
    expect(hashOperatorToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
  });
});
