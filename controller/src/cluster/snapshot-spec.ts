/**
 * `snapshots:` in cluster.yaml (issue 13): when the controller snapshots the cluster's etcd, how
 * many snapshots it keeps, and when it runs the restore drill. Optional; absent means the defaults
 * (hourly snapshots, 24 hourly + 7 daily kept, a daily drill). `ballastctl etcd schedule set`
 * stores an override (store/snapshots.ts policy) that wins over the spec.
 *
 * The S3 target is NOT here: it carries credentials, and a cluster spec travels in API bodies and
 * bundles. It is controller configuration (`--snapshot-s3 FILE`, snapshots/s3-target.ts).
 */
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { validate as validateCron } from 'node-cron';
import { compiledCheck } from '../../../shared/src/schema-check.js';

/** A 5- or 6-field cron expression (node-cron's syntax), checked by node-cron itself too. */
const Cron = (def: string) => Type.String({ minLength: 9, maxLength: 128, pattern: '^[0-9*/,\\- A-Za-z?LW#]+$', default: def });

export const SnapshotPolicySchema = Type.Object(
  {
    /** false: no scheduled snapshots or drills (on-demand ones still work). */
    enabled: Type.Boolean({ default: true }),
    /** When to snapshot; default hourly at minute 0. */
    schedule: Cron('0 * * * *'),
    /** Newest snapshots kept regardless of age (the "hourly" ones with the default schedule). */
    keepHourly: Type.Integer({ minimum: 1, maximum: 1000, default: 24 }),
    /** Beyond those, the newest snapshot of each of this many most recent days. */
    keepDaily: Type.Integer({ minimum: 0, maximum: 1000, default: 7 }),
    /** When to run the restore drill on the newest snapshot; default daily at 03:30. */
    drillSchedule: Cron('30 3 * * *'),
    /**
     * Automatic defragmentation (etcd-care.ts autoDefrag): on `defragSchedule`, members whose
     * in-use size is under half of a database over 100 MB are defragmented, one at a time, the
     * leader last, only with every member up. On by default: it acts only when at least 50 MB are
     * reclaimable and more than half of the file is free space, and one member at a time keeps quorum.
     */
    autoDefrag: Type.Boolean({ default: true }),
    /** When the automatic defragmentation checks the members; default daily at 04:00 (after the drill). */
    defragSchedule: Cron('0 4 * * *'),
  },
  { additionalProperties: false, default: {} },
);
export type SnapshotPolicy = Static<typeof SnapshotPolicySchema>;

/** The policy with defaults applied, or every problem with its path (under `/snapshots`). */
export function checkSnapshotPolicy(value: unknown): { ok: true; policy: SnapshotPolicy } | { ok: false; problems: { path: string; message: string }[] } {
  const defaulted: unknown = Value.Default(SnapshotPolicySchema, Value.Clone(value ?? {}));
  const check = compiledCheck(SnapshotPolicySchema);
  if (!check.Check(defaulted)) {
    return { ok: false, problems: [...check.Errors(defaulted)].map((e) => ({ path: `/snapshots${e.path}`, message: e.message })) };
  }
  const problems: { path: string; message: string }[] = [];
  for (const field of ['schedule', 'drillSchedule', 'defragSchedule'] as const) {
    if (!validateCron(defaulted[field])) problems.push({ path: `/snapshots/${field}`, message: `"${defaulted[field]}" is not a cron expression (e.g. "0 * * * *")` });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy: defaulted };
}

/** The defaults, as a policy. */
export function defaultSnapshotPolicy(): SnapshotPolicy {
  const checked = checkSnapshotPolicy({});
  if (!checked.ok) throw new Error('the default snapshot policy is invalid');
  return checked.policy;
}
