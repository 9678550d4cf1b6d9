/** The stored input of a recovery, read back by its executors (validated when the operation started). */
import { specOf } from '../bootstrap/cluster-facts.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { OperationRecord } from '../ops/records.js';
import type { RecoverInput } from './types.js';

export function recoverInputOf(op: Pick<OperationRecord, 'input'>): RecoverInput & { spec: ClusterSpec } {
  return { ...(op.input as RecoverInput), spec: specOf(op) };
}
