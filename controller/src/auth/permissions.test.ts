import { describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../../shared/src/api.js';
import { roleAllows } from './permissions.js';

describe('roleAllows', () => {
  const matrix: Array<[Role, Role, boolean]> = [
    ['viewer', 'viewer', true],
    ['viewer', 'operator', false],
    ['viewer', 'admin', false],
    ['operator', 'viewer', true],
    ['operator', 'operator', true],
    ['operator', 'admin', false],
    ['admin', 'viewer', true],
    ['admin', 'operator', true],
    ['admin', 'admin', true],
  ];
  it.each(matrix)('%s needing %s → %s', (role, needed, allowed) => {
    expect(roleAllows(role, needed)).toBe(allowed);
  });

  it('covers every pair of roles', () => {
    expect(matrix).toHaveLength(ROLES.length ** 2);
  });
});
