/**
 * The operations API, typed once: an operation (bootstrap, reset, add-node …) is a persisted state
 * machine of phases and steps that the controller runs one step at a time and resumes after a
 * restart. Fastify validates against these schemas and ballastctl decodes with them;
 * `ballastctl op ID -o json` prints exactly {@link OperationDocument}, so its shape is a contract.
 *
 * Routes (operator token in `Authorization: Bearer`):
 *   GET  /v1/ops?limit                 → OperationList      — viewer, newest first
 *   GET  /v1/ops/:id?after&waitMs      → OperationDocument  — viewer; with `after`, long-polls until
 *        the operation's `seq` exceeds it (or it is no longer running, or `waitMs` pass)
 *   POST /v1/ops/:id/resume            → OperationDocument  — operator, audited (`op.resume`);
 *        re-runs the failed step of a paused operation, then continues
 *   POST /v1/ops/:id/abort             → OperationDocument  — operator, audited (`op.abort`);
 *        cancels the step in progress and stops; nothing is torn down
 * Starting an operation is kind-specific (e.g. `POST /v1/clusters` starts a bootstrap).
 */
import { type Static, Type } from '@sinclair/typebox';
import { Aborted, Failed, Paused, Pending, Running, Skipped, Succeeded } from './states.js';
import { TruncatedField } from './paging.js';

const Iso = Type.String({ description: 'RFC 3339 timestamp', maxLength: 40 });
const IsoOrNull = Type.Union([Iso, Type.Null()]);

/** Operation ids as the controller makes them (`op-` + 12 hex digits); also what URLs accept. */
export const OP_ID_PATTERN = /^op-[0-9a-f]{12}$/;

/**
 * pending → running → succeeded; running → paused (a step failed; resume or abort) → running …;
 * pending | running | paused → aborted. `failed` ends a check-mode operation whose checks failed
 * (check mode never pauses: it changed nothing, so there is nothing to resume). The words are the
 * one vocabulary of shared/src/states.ts.
 */
export const OperationStateSchema = Type.Union([Pending, Running, Paused, Succeeded, Failed, Aborted]);
export type OperationState = Static<typeof OperationStateSchema>;

/** A step's state; a `running` step found at controller start is executed again (attempts + 1). */
export const StepStateSchema = Type.Union([Pending, Running, Succeeded, Failed, Skipped]);
export type StepState = Static<typeof StepStateSchema>;

/** Why an operation paused: the error, and the step and host it happened on. */
export const OperationErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  host: Type.Union([Type.String(), Type.Null()]),
  stepKey: Type.Union([Type.String(), Type.Null()]),
});
export type OperationError = Static<typeof OperationErrorSchema>;

const StepErrorSchema = Type.Object({ code: Type.String(), message: Type.String(), path: Type.Optional(Type.String()) });

/** One step of the plan. Arguments stay on the controller (they are not shown). */
export const OperationStepSchema = Type.Object({
  idx: Type.Integer({ minimum: 0 }),
  /** Stable and unique within the operation, e.g. `etcd/add/cp-2`. */
  key: Type.String(),
  phase: Type.String(),
  host: Type.Union([Type.String(), Type.Null()]),
  title: Type.String(),
  kind: Type.String(),
  state: StepStateSchema,
  /** How many times execution started; above 1 after a retry (resume) or a controller restart. */
  attempts: Type.Integer({ minimum: 0 }),
  startedAt: IsoOrNull,
  endedAt: IsoOrNull,
  /** Of the last attempt, once it ended. */
  durationMs: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  /** Whether the step changed something (check mode: would change); null until it succeeded or was skipped. */
  changed: Type.Union([Type.Boolean(), Type.Null()]),
  message: Type.String(),
  /** The latest progress message of a running step. */
  progress: Type.Union([Type.String(), Type.Null()]),
  /** What the executor returned for later steps and operators (e.g. an etcd member id). */
  data: Type.Optional(Type.Unknown()),
  error: Type.Union([StepErrorSchema, Type.Null()]),
  /** The operation's seq at this step's last change. */
  seq: Type.Integer({ minimum: 0 }),
});
export type OperationStep = Static<typeof OperationStepSchema>;

/** The step running now (or next to run), for list views and live progress. */
export const OperationCurrentSchema = Type.Object({
  key: Type.String(),
  phase: Type.String(),
  host: Type.Union([Type.String(), Type.Null()]),
  title: Type.String(),
  state: StepStateSchema,
  attempts: Type.Integer({ minimum: 0 }),
  startedAt: IsoOrNull,
  progress: Type.Union([Type.String(), Type.Null()]),
});
export type OperationCurrent = Static<typeof OperationCurrentSchema>;

/** The header shared by documents and list items. */
const OperationHeader = {
  id: Type.String(),
  kind: Type.String(),
  cluster: Type.Union([Type.String(), Type.Null()]),
  state: OperationStateSchema,
  /** Check mode: executors report what would change and change nothing. */
  check: Type.Boolean(),
  createdBy: Type.String(),
  createdAt: Iso,
  updatedAt: Iso,
  endedAt: IsoOrNull,
  error: Type.Union([OperationErrorSchema, Type.Null()]),
  /** Bumped on every recorded change; pass as `after` to long-poll for the next one. */
  seq: Type.Integer({ minimum: 0 }),
  /** Steps finished (succeeded or skipped) out of all steps planned so far. */
  progress: Type.Object({ done: Type.Integer({ minimum: 0 }), total: Type.Integer({ minimum: 0 }) }),
  /** The first step not finished: running, failed (paused) or next; null once all are finished. */
  current: Type.Union([OperationCurrentSchema, Type.Null()]),
};

/** `GET /v1/ops/:id`, and what resume and abort return. */
export const OperationDocumentSchema = Type.Object({
  ...OperationHeader,
  /** The input the operation was started with, secrets redacted. */
  input: Type.Record(Type.String(), Type.Unknown()),
  steps: Type.Array(OperationStepSchema),
});
export type OperationDocument = Static<typeof OperationDocumentSchema>;

export const OperationListItemSchema = Type.Object(OperationHeader);
export type OperationListItem = Static<typeof OperationListItemSchema>;
/** Newest first, cut at LIST_PAGE_MAX_BYTES (paging.ts). */
export const OperationListResponseSchema = Type.Object({ items: Type.Array(OperationListItemSchema), truncated: TruncatedField });
export type OperationListResponse = Static<typeof OperationListResponseSchema>;

/** An operation kind as a filter names it (`node.replace`, `cluster.create`). */
const OP_KIND_PATTERN = '[a-z][a-z0-9-]{0,31}(\\.[a-z][a-z0-9-]{0,31}){0,3}';
/** At most this many kinds in one `kind` filter. */
export const MAX_KIND_FILTER = 16;

export const OperationListQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  /** Only these kinds, comma-separated (`node.replace,node.add,node.remove`: the replacements view). */
  kind: Type.Optional(Type.String({ pattern: `^${OP_KIND_PATTERN}(,${OP_KIND_PATTERN}){0,${MAX_KIND_FILTER - 1}}$`, maxLength: 1024 })),
});
export const OperationIdParamsSchema = Type.Object({ id: Type.String({ pattern: OP_ID_PATTERN.source, maxLength: 15 }) });
export const OperationWaitQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Long-poll: wait up to this many ms for a change after `after`. */
  waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
});

/** True while an operation can still change by itself (the engine is working on it). */
export function isOperationActive(state: OperationState): boolean {
  return state === 'pending' || state === 'running';
}

/** True once an operation can change no more. */
export function isOperationFinished(state: OperationState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'aborted';
}
