/**
 * Issue 16 point 11: a call with a revoked operator token was audited as `anonymous`. It is still
 * refused (401), and the audit entry now names the account the token belonged to.
 */
import { describe, expect, it } from 'vitest';
import { testApp } from '../../controller/src/api/testing.js';
import { tempStore } from '../../controller/src/store/testing.js';

describe('revoked operator token', () => {
  it('is refused, and the audit log names the account', async () => {
    const temp = await tempStore('ballast-sec-revoked-');
    const app = await testApp({ store: temp.store });
    try {
      const admin = temp.store.operators.ensureAdmin() ?? '';
      const created = await app.inject({ method: 'POST', url: '/v1/operators', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'mallory', role: 'operator' } });
      const token = created.json().token as string;
      temp.store.operators.revoke('mallory');
      const r = await app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${token}` }, payload: { ttlSeconds: 600 } });
      expect(r.statusCode).toBe(401);
      const entry = temp.store.audit.list(10).find((a) => a.action === 'token.create');
      expect(entry).toMatchObject({ actor: 'mallory (revoked)', outcome: 'denied' });
    } finally {
      await app.close();
      await temp.cleanup();
    }
  });
});
