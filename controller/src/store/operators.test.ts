import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashOperatorToken, OPERATOR_TOKEN_PATTERN } from '../auth/operator-token.js';
import { BOOTSTRAP_ADMIN } from './operators.js';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function newStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-ops-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'ballast.db'), now: () => 1_000 });
  stores.push(store);
  return store;
}

describe('OperatorRepo', () => {
  it('creates an account, returns its token once, and stores only the hash', () => {
    const { operators, db } = newStore();
    const { token, operator } = operators.create({ name: 'alice', role: 'operator' });
    expect(token).toMatch(OPERATOR_TOKEN_PATTERN);
    expect(operator).toEqual({ name: 'alice', role: 'operator', createdAt: 1_000, revokedAt: null });
    const stored = db.prepare<[], string>("SELECT token_hash FROM operators WHERE name = 'alice'").pluck().get();
    expect(stored).toBe(hashOperatorToken(token));
    expect(JSON.stringify(db.prepare('SELECT * FROM operators').all())).not.toContain(token);
  });

  it('finds an active operator by token and nobody for junk or unknown tokens', () => {
    const { operators } = newStore();
    const { token } = operators.create({ name: 'alice', role: 'viewer' });
    const other = operators.create({ name: 'bob', role: 'admin' }).token;
    expect(operators.findByToken(token)?.name).toBe('alice');
    expect(operators.findByToken(other)?.role).toBe('admin');
    expect(operators.findByToken('')).toBeNull();
    expect(operators.findByToken('blst_nope')).toBeNull();
    expect(operators.findByToken(`blst_${'A'.repeat(43)}`)).toBeNull();
  });

  it('refuses a duplicate name with a validation error, even after revocation', () => {
    const { operators } = newStore();
    operators.create({ name: 'root', role: 'admin' });
    operators.create({ name: 'alice', role: 'viewer' });
    expect(() => operators.create({ name: 'alice', role: 'admin' })).toThrow(
      expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION', message: expect.stringContaining('alice') }),
    );
    operators.revoke('alice');
    expect(() => operators.create({ name: 'alice', role: 'viewer' })).toThrow(
      expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION', message: expect.stringContaining('not reused') }),
    );
  });

  it('revokes: the token stops working, the account stays listed, revoking twice keeps the time', () => {
    const { operators } = newStore();
    operators.create({ name: 'root', role: 'admin' });
    const { token } = operators.create({ name: 'alice', role: 'operator' });
    const revoked = operators.revoke('alice');
    expect(revoked.revokedAt).not.toBeNull();
    expect(operators.findByToken(token)).toBeNull();
    expect(operators.revoke('alice').revokedAt).toBe(revoked.revokedAt);
    expect(operators.list().map((o) => [o.name, o.revokedAt !== null])).toEqual([
      ['alice', true],
      ['root', false],
    ]);
    expect(() => operators.revoke('nobody')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' }));
  });

  it('will not revoke the last active admin', () => {
    const { operators } = newStore();
    operators.create({ name: 'root', role: 'admin' });
    operators.create({ name: 'second', role: 'admin' });
    operators.revoke('second');
    expect(() => operators.revoke('root')).toThrow(
      expect.objectContaining({ code: 'BALLAST_ERR_VALIDATION', message: expect.stringContaining('last admin') }),
    );
    expect(operators.get('root')?.revokedAt).toBeNull();
  });

  it('ensureAdmin creates the bootstrap admin once', () => {
    const { operators } = newStore();
    const token = operators.ensureAdmin();
    expect(token).toMatch(OPERATOR_TOKEN_PATTERN);
    expect(operators.findByToken(token!)).toMatchObject({ name: BOOTSTRAP_ADMIN, role: 'admin' });
    expect(operators.ensureAdmin()).toBeNull();
  });

  it('ensureAdmin does nothing when another admin exists', () => {
    const { operators } = newStore();
    operators.create({ name: 'root', role: 'admin' });
    operators.create({ name: 'alice', role: 'operator' });
    expect(operators.ensureAdmin()).toBeNull();
    expect(operators.get(BOOTSTRAP_ADMIN)).toBeNull();
  });
});
