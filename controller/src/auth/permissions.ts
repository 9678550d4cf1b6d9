/** Operator roles are strictly ordered: each role may do everything the ones below it may. */
import type { Role } from '../../../shared/src/api.js';

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 };

/** True if an operator with `role` may use an endpoint that needs `needed` (viewer < operator < admin). */
export function roleAllows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
