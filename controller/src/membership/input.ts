/**
 * Reading a membership operation's stored input back (validated: it comes from the store) and
 * the names it implies.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import type { OperationRecord } from '../ops/records.js';
import { type MembershipInput, MembershipInputSchema, type MembershipKind, NODE_ADD, NODE_REMOVE, NODE_REPLACE } from './types.js';

/** The stored input of a membership operation. */
export function membershipInputOf(op: Pick<OperationRecord, 'input' | 'id'>): MembershipInput {
  const check = compiledCheck(MembershipInputSchema);
  if (!check.Check(op.input)) {
    const first = [...check.Errors(op.input)][0];
    throw new BallastError('BALLAST_ERR_STORE', `failed to read the input of ${op.id}: ${first?.path ?? '/'}: ${first?.message ?? 'invalid'}`);
  }
  return op.input as MembershipInput;
}

/** The kind of a stored operation, when it is a membership change. */
export function membershipKindOf(kind: string): MembershipKind | null {
  return kind === NODE_REPLACE || kind === NODE_ADD || kind === NODE_REMOVE ? kind : null;
}
