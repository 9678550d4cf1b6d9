import { type Static, Type } from '@sinclair/typebox';

/** Ansible's four outcomes. `changed` in check mode means "would change". */
export const TaskStatusSchema = Type.Union([Type.Literal('ok'), Type.Literal('changed'), Type.Literal('failed'), Type.Literal('skipped')]);
export type TaskStatus = Static<typeof TaskStatusSchema>;

/** The outcome of one task on one host. */
export const TaskResultSchema = Type.Object({
  status: TaskStatusSchema,
  durationMs: Type.Number({ minimum: 0 }),
  /** Unified diff (files) or a `before → after` line per property; empty when nothing changed. */
  diff: Type.String({ maxLength: 256 * 1024 }),
  /** One human line: what was done or would be done, or why it was skipped. */
  message: Type.String({ maxLength: 4096 }),
  /** Set when status is failed. */
  error: Type.Optional(
    Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 4096 }), path: Type.Optional(Type.String({ maxLength: 512 })) }),
  ),
  /** Handlers this task notified (only when it changed). */
  notified: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32 }),
});
export type TaskResult = Static<typeof TaskResultSchema>;
