import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BallastError } from '../../../shared/src/errors.js';
import { digestsEqual, sha256Hex } from './hash.js';
import { generateJoinToken, hashJoinSecret, JOIN_TOKEN_PATTERN, parseJoinToken } from './join-token.js';

describe('join tokens', () => {
  it('generates random tokens in kubeadm format', () => {
    const tokens = Array.from({ length: 200 }, () => generateJoinToken());
    for (const t of tokens) {
      expect(t.token).toMatch(JOIN_TOKEN_PATTERN);
      expect(t.token).toBe(`${t.id}.${t.secret}`);
      expect(parseJoinToken(t.token)).toEqual(t);
    }
    expect(new Set(tokens.map((t) => t.token)).size).toBe(tokens.length);
  });

  it('parses id and secret', () => {
    expect(parseJoinToken('abcdef.0123456789abcdef')).toEqual({
      id: 'abcdef',
      secret: '0123456789abcdef',
      token: 'abcdef.0123456789abcdef',
    });
  });

  it.each([
    '',
    'qwerty',
    'qwerty.',
    'qwertya1b2c3d4e5f6g7h8',
    'qwert.a1b2c3d4e5f6g7h8',
    'qwertyu.a1b2c3d4e5f6g7h8',
    'qwerty.a1b2c3d4e5f6g7h',
    'qwerty.a1b2c3d4e5f6g7h80',
    'QWERTY.a1b2c3d4e5f6g7h8',
    'qwerty:a1b2c3d4e5f6g7h8',
    ' qwerty.a1b2c3d4e5f6g7h8',
    'qwerty.a1b2c3d4e5f6g7h8\n',
    'qw-rty.a1b2c3d4e5f6g7h8',
  ])('rejects %j with the expected format and without echoing it', (value) => {
    let error: unknown;
    try {
      parseJoinToken(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BallastError);
    expect((error as BallastError).code).toBe('BALLAST_ERR_TOKEN_INVALID');
    expect((error as BallastError).message).toContain('[a-z0-9]{6}.[a-z0-9]{16}');
    if (value.trim() !== '') expect((error as BallastError).message).not.toContain(value.trim());
  });

  it('stores secrets as sha256 hex and compares digests safely', () => {
    const hash = hashJoinSecret('0123456789abcdef');
    expect(hash).toBe(createHash('sha256').update('0123456789abcdef').digest('hex'));
    expect(hash).toBe(sha256Hex('0123456789abcdef'));
    expect(digestsEqual(hash, hashJoinSecret('0123456789abcdef'))).toBe(true);
    expect(digestsEqual(hash, hashJoinSecret('0123456789abcdeg'))).toBe(false);
    expect(digestsEqual(hash, 'short')).toBe(false);
    expect(digestsEqual(hash, hash.toUpperCase())).toBe(false);
  });
});
