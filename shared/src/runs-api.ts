/**
 * The runs API, typed once (like shared/src/api.ts): a run applies one role to some hosts now,
 * Ansible-style. Fastify validates against these schemas and ballastctl decodes with them;
 * `ballastctl apply -o json` and `ballastctl run ID -o json` print exactly {@link RunDocument}, so
 * its shape is a stable contract.
 *
 * Routes (operator token in `Authorization: Bearer`):
 *   POST /v1/runs             RunCreateRequest → RunDocument  — operator, audited (`run.create`)
 *   GET  /v1/runs?limit                        → RunList      — viewer, newest first
 *   GET  /v1/runs/:id?after&wait               → RunDocument  — viewer; with `after`, long-polls
 *        until the run's `seq` exceeds it (or the run ends, or `wait` seconds pass)
 *   GET  /v1/runs/:id/progress?after&wait      → RunProgress  — viewer; results with seq > after,
 *        long-polled the same way (what `ballastctl apply` follows)
 *   POST /v1/runs/:id/cancel                   → RunDocument  — operator, audited (`run.cancel`);
 *        sends `req.cancel` to hosts still running; cancelling a finished run changes nothing
 */
import { type Static, Type } from '@sinclair/typebox';
import { Cancelled, Failed, Interrupted, Pending, Running, Succeeded } from './states.js';
import { TaskStatusSchema } from './tasks/results.js';
import { TruncatedField } from './paging.js';

const Iso = Type.String({ description: 'RFC 3339 timestamp', maxLength: 40 });
const HostName = Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$', maxLength: 63 });

/** Role names: lowercase words joined by dashes (`os-prep`, `kube-node`). */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
/** Run ids as the controller makes them (`run-` + 12 hex digits); also what URLs accept. */
export const RUN_ID_PATTERN = /^run-[0-9a-f]{12}$/;

/** Most hosts one run may target. */
export const MAX_RUN_HOSTS = 500;

export const RunCreateRequestSchema = Type.Object(
  {
    role: Type.String({ pattern: ROLE_NAME_PATTERN.source, maxLength: 63 }),
    hosts: Type.Array(HostName, { minItems: 1, maxItems: MAX_RUN_HOSTS }),
    /** Report what would change and touch nothing. */
    check: Type.Boolean({ default: false }),
    /** Include diffs in the results. */
    diff: Type.Boolean({ default: false }),
    /** Role variables; each role validates its own (see controller/src/roles). */
    vars: Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { default: {}, maxProperties: 256 }),
  },
  { additionalProperties: false },
);
export type RunCreateRequest = Static<typeof RunCreateRequestSchema>;

/**
 * running → succeeded | failed | cancelled; `interrupted` when the controller stopped while the run
 * was in flight (runs are not resumed; apply again — tasks are idempotent). The words are the one
 * vocabulary of shared/src/states.ts.
 */
export const RunStatusSchema = Type.Union([Running, Succeeded, Failed, Cancelled, Interrupted]);
export type RunStatus = Static<typeof RunStatusSchema>;

/** A host's part of a run: `pending` until its `req.run` is sent. */
export const RunHostStatusSchema = Type.Union([Pending, Running, Succeeded, Failed, Cancelled, Interrupted]);
export type RunHostStatus = Static<typeof RunHostStatusSchema>;

/** Ansible's recap counters: task results (`ok` = nothing to change), not run states. */
export const RecapSchema = Type.Object({
  ok: Type.Integer({ minimum: 0 }),
  changed: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
  skipped: Type.Integer({ minimum: 0 }),
});
export type Recap = Static<typeof RecapSchema>;

const Phase = Type.Union([Type.Literal('task'), Type.Literal('handler')]);
const ErrorOut = Type.Object({ code: Type.String(), message: Type.String(), path: Type.Optional(Type.String()) });

/** One task or handler of a host's plan, as rendered (names only; arguments stay on the controller). */
export const PlannedTaskSchema = Type.Object({
  phase: Phase,
  index: Type.Integer({ minimum: 0 }),
  name: Type.String(),
  module: Type.String(),
});
export type PlannedTask = Static<typeof PlannedTaskSchema>;

/** The result of one finished task on one host. `seq` orders results across the whole run. */
export const RunTaskResultSchema = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  host: Type.String(),
  phase: Phase,
  index: Type.Integer({ minimum: 0 }),
  name: Type.String(),
  module: Type.String(),
  status: TaskStatusSchema,
  durationMs: Type.Number({ minimum: 0 }),
  /** Unified diff; empty without `diff`, and hidden for tasks that carry secrets (keys). */
  diff: Type.String(),
  message: Type.String(),
  error: Type.Optional(ErrorOut),
  notified: Type.Array(Type.String()),
  at: Iso,
});
export type RunTaskResult = Static<typeof RunTaskResultSchema>;

/** A host's state within a run, without its results (progress responses). */
export const RunHostStateSchema = Type.Object({
  name: Type.String(),
  status: RunHostStatusSchema,
  startedAt: Type.Union([Iso, Type.Null()]),
  finishedAt: Type.Union([Iso, Type.Null()]),
  /** The task the agent reported as started and not yet finished. */
  current: Type.Union([PlannedTaskSchema, Type.Null()]),
  /** From the agent's final summary when it sent one, else counted from the results received. */
  recap: RecapSchema,
  /** Why the host failed outside any task (agent disconnected, deadline, refused the run). */
  error: Type.Union([ErrorOut, Type.Null()]),
});
export type RunHostState = Static<typeof RunHostStateSchema>;

/** A host's full part of a run. */
export const RunHostSchema = Type.Object({
  ...RunHostStateSchema.properties,
  plan: Type.Array(PlannedTaskSchema),
  results: Type.Array(RunTaskResultSchema),
});
export type RunHost = Static<typeof RunHostSchema>;

/** The run header shared by documents, progress and list items. */
const RunHeader = {
  id: Type.String(),
  role: Type.String(),
  check: Type.Boolean(),
  diff: Type.Boolean(),
  status: RunStatusSchema,
  createdAt: Iso,
  createdBy: Type.String(),
  finishedAt: Type.Union([Iso, Type.Null()]),
  /** Set once someone asked to cancel. */
  cancelRequestedBy: Type.Union([Type.String(), Type.Null()]),
  /** Bumped on every recorded change; pass as `after` to long-poll for the next one. */
  seq: Type.Integer({ minimum: 0 }),
  /** Sums over all hosts. */
  recap: RecapSchema,
};

/** `GET /v1/runs/:id`, and what `POST /v1/runs` and cancel return. */
export const RunDocumentSchema = Type.Object({
  ...RunHeader,
  /** The variables as given, with secrets (private keys) replaced by "<redacted>". */
  vars: Type.Record(Type.String(), Type.Unknown()),
  hosts: Type.Array(RunHostSchema),
});
export type RunDocument = Static<typeof RunDocumentSchema>;

/** `GET /v1/runs/:id/progress`: the run's state and the results newer than `after`. */
export const RunProgressSchema = Type.Object({
  ...RunHeader,
  hosts: Type.Array(RunHostStateSchema),
  /** Results with seq > after, oldest first (at most `limit`). */
  results: Type.Array(RunTaskResultSchema),
});
export type RunProgress = Static<typeof RunProgressSchema>;

export const RunListItemSchema = Type.Object({ ...RunHeader, hosts: Type.Array(Type.String()) });
export type RunListItem = Static<typeof RunListItemSchema>;
/** Newest first, cut at LIST_PAGE_MAX_BYTES (paging.ts). */
export const RunListResponseSchema = Type.Object({ items: Type.Array(RunListItemSchema), truncated: TruncatedField });
export type RunListResponse = Static<typeof RunListResponseSchema>;

export const RunListQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
});
export const RunIdParamsSchema = Type.Object({ id: Type.String({ pattern: RUN_ID_PATTERN.source, maxLength: 16 }) });
export const RunWaitQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Long-poll: wait up to this many seconds for a change after `after`. */
  wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })),
  /** Progress only: most results per answer. */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
});

/** True once a run can change no more. */
export function isRunFinished(status: RunStatus): boolean {
  return status !== 'running';
}
