import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isBallastError } from '../../../shared/src/errors.js';
import { generateJoinToken, hashJoinSecret } from '../auth/join-token.js';
import type { Store } from './store.js';
import { tempStores } from './testing.js';
import { type TokenRecord, tokenStatus } from './tokens.js';

const temp = tempStores('ballast-tokens-');
afterEach(() => temp.cleanup());
const tempPath = (): string => temp.path();
const open = (path: string, now = () => 1_000): Store => temp.open(path, now);

const SECRET = '0123456789abcdef';
const HASH = hashJoinSecret(SECRET);

/** Creates token `abcdef` at t=1000 with a one hour lifetime. */
function withToken(usesAllowed: number | null = null) {
  const path = tempPath();
  const store = open(path);
  const token = store.tokens.create({
    id: 'abcdef',
    secretHash: HASH,
    description: 'rack 4',
    createdBy: 'alice',
    ttlMs: 3_600_000,
    usesAllowed,
  });
  return { store, token, path };
}

function codeOf(fn: () => unknown): ErrorCode | 'no error' {
  try {
    fn();
  } catch (err) {
    if (isBallastError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

describe('TokenRepo', () => {
  it('creates, gets and lists tokens without exposing the hash', () => {
    const { store, token } = withToken(3);
    expect(token).toEqual({
      id: 'abcdef',
      description: 'rack 4',
      createdAt: 1_000,
      createdBy: 'alice',
      expiresAt: 3_601_000,
      usesAllowed: 3,
      usesCount: 0,
      revokedAt: null,
    });
    expect(store.tokens.get('abcdef')).toEqual(token);
    expect(store.tokens.get('zzzzzz')).toBeNull();
    const generated = generateJoinToken();
    store.tokens.create({ id: generated.id, secretHash: hashJoinSecret(generated.secret), createdBy: 'bob', ttlMs: 60_000 });
    expect(store.tokens.list().map((t) => t.id)).toEqual(['abcdef', generated.id].sort());
    expect(JSON.stringify(store.tokens.list())).not.toContain(HASH);
    expect(codeOf(() => store.tokens.create({ id: 'abcdef', secretHash: HASH, createdBy: 'x', ttlMs: 1 }))).toBe(
      'BALLAST_ERR_VALIDATION',
    );
  });

  it('consumes a valid token and counts the use', () => {
    const { store } = withToken();
    expect(store.tokens.consume('abcdef', HASH, 2_000).usesCount).toBe(1);
    expect(store.tokens.consume('abcdef', HASH, 2_000).usesCount).toBe(2);
    expect(store.tokens.get('abcdef')?.usesCount).toBe(2);
  });

  it('gives a wrong secret exactly the same error as an unknown id, and does not count it', () => {
    const { store } = withToken();
    const errorOf = (id: string, hash: string) => {
      try {
        store.tokens.consume(id, hash, 2_000);
      } catch (err) {
        return err;
      }
      return null;
    };
    const wrongSecret = errorOf('abcdef', hashJoinSecret('0123456789abcdeX'));
    const unknownId = errorOf('zzzzzz', HASH);
    const malformedHash = errorOf('abcdef', 'not-a-hash');
    for (const err of [wrongSecret, unknownId, malformedHash]) {
      expect(isBallastError(err, 'BALLAST_ERR_TOKEN_INVALID')).toBe(true);
      expect((err as Error).message).toBe((unknownId as Error).message);
    }
    expect(store.tokens.get('abcdef')?.usesCount).toBe(0);
  });

  it('expires at exactly expiresAt', () => {
    const { store, token } = withToken();
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, token.expiresAt - 1))).toBe('no error');
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, token.expiresAt))).toBe('BALLAST_ERR_TOKEN_EXPIRED');
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, token.expiresAt + 1))).toBe('BALLAST_ERR_TOKEN_EXPIRED');
    expect(store.tokens.get('abcdef')?.usesCount).toBe(1);
  });

  it('refuses a revoked token, even before expiry', () => {
    const { store } = withToken();
    const revoked = store.tokens.revoke('abcdef', 1_500);
    expect(revoked.revokedAt).toBe(1_500);
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, 2_000))).toBe('BALLAST_ERR_TOKEN_REVOKED');
    expect(store.tokens.revoke('abcdef', 9_999).revokedAt).toBe(1_500);
    expect(codeOf(() => store.tokens.revoke('zzzzzz', 2_000))).toBe('BALLAST_ERR_NOT_FOUND');
  });

  it('allows exactly usesAllowed uses across two connections taking turns', () => {
    const { path, store: first } = withToken(3);
    const other = open(path);
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const store = i % 2 === 0 ? first : other;
      outcomes.push(codeOf(() => store.tokens.consume('abcdef', HASH, 2_000)));
    }
    expect(outcomes.filter((o) => o === 'no error')).toHaveLength(3);
    expect(outcomes.slice(3)).toEqual(Array(7).fill('BALLAST_ERR_TOKEN_EXHAUSTED'));
    expect(other.tokens.get('abcdef')?.usesCount).toBe(3);
  });

  it('allows unlimited uses when usesAllowed is null', () => {
    const { store } = withToken(null);
    for (let i = 0; i < 50; i++) store.tokens.consume('abcdef', HASH, 2_000);
    expect(store.tokens.get('abcdef')?.usesCount).toBe(50);
  });

  it('rolls a use back when the enrolment it belongs to fails in the same outer transaction', () => {
    const { store } = withToken(1);
    const host = { id: 'h1', name: 'node-a', certSerial: 's1', certNotAfter: 0, enrolledAt: 0 };
    store.hosts.create(host);
    const enrol = store.db.transaction(() => {
      store.tokens.consume('abcdef', HASH, 2_000);
      return store.hosts.create({ ...host, id: 'h2' });
    });
    expect(codeOf(() => enrol())).toBe('BALLAST_ERR_HOST_EXISTS');
    expect(store.tokens.get('abcdef')?.usesCount).toBe(0);
  });

  it('checks revoked before expired before exhausted', () => {
    const { store, token } = withToken(1);
    store.tokens.consume('abcdef', HASH, 2_000);
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, 2_000))).toBe('BALLAST_ERR_TOKEN_EXHAUSTED');
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, token.expiresAt))).toBe('BALLAST_ERR_TOKEN_EXPIRED');
    store.tokens.revoke('abcdef', 3_000);
    expect(codeOf(() => store.tokens.consume('abcdef', HASH, token.expiresAt))).toBe('BALLAST_ERR_TOKEN_REVOKED');
  });
});

describe('tokenStatus', () => {
  const base: TokenRecord = {
    id: 'abcdef',
    description: '',
    createdAt: 0,
    createdBy: 'a',
    expiresAt: 100,
    usesAllowed: 2,
    usesCount: 0,
    revokedAt: null,
  };
  it.each([
    [{}, 0, 'active'],
    [{}, 99, 'active'],
    [{}, 100, 'expired'],
    [{ usesCount: 1 }, 50, 'active'],
    [{ usesCount: 2 }, 50, 'exhausted'],
    [{ usesAllowed: null, usesCount: 10_000 }, 50, 'active'],
    [{ usesCount: 2 }, 100, 'expired'],
    [{ revokedAt: 10 }, 50, 'revoked'],
    [{ revokedAt: 10, usesCount: 2 }, 100, 'revoked'],
  ] as const)('%j at %i is %s', (patch, now, status) => {
    expect(tokenStatus({ ...base, ...patch }, now)).toBe(status);
  });
});
