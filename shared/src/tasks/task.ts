import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ModuleArgsSchemas } from './modules.js';

/**
 * One task of a run: a module name, its arguments (validated against that module's schema on the
 * controller before sending and on the agent before running), and the handlers to notify when it
 * changes something. Tasks are data, never scripts (STYLE.md §4).
 */
export const TaskSchema = Type.Union(
  Object.entries(ModuleArgsSchemas).map(([module, args]) =>
    Type.Object({
      name: Type.String({ minLength: 1, maxLength: 256 }),
      module: Type.Literal(module),
      args,
      notify: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 16 })),
      /** Hide this task's diff (it writes secrets). */
      sensitive: Type.Optional(Type.Boolean()),
    }),
  ),
);
export type Task = Static<typeof TaskSchema>;

/**
 * A task as it crosses the wire: the module name is checked, the arguments only for being an
 * object. The agent validates them per task against the module's schema, so one bad argument fails
 * that task with its field path instead of making the whole run frame unreadable. The controller
 * validates with the strict {@link TaskSchema} before it sends anything.
 */
export const WireTaskSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  module: Type.Union(Object.keys(ModuleArgsSchemas).map((m) => Type.Literal(m))),
  args: Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { maxProperties: 64 }),
  notify: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 16 })),
  /** Hide this task's diff (it writes secrets). */
  sensitive: Type.Optional(Type.Boolean()),
});
export type WireTask = Static<typeof WireTaskSchema>;

/**
 * A run: ordered tasks plus handlers. A handler runs once, after all tasks, if any task that
 * notified it changed something (Ansible handler semantics: restart a service only when its config
 * changed). Handlers are tasks whose `name` is what `notify` refers to.
 */
export const RunSpecSchema = runSpecOf(TaskSchema);
export type RunSpec = Static<typeof RunSpecSchema>;

/** A run as it crosses the wire (tasks in their {@link WireTaskSchema} form). */
export const WireRunSpecSchema = runSpecOf(WireTaskSchema);
export type WireRunSpec = Static<typeof WireRunSpecSchema>;

/** The run envelope around a task schema: one definition for the strict and the wire form. */
function runSpecOf<T extends TSchema>(task: T) {
  return Type.Object({
    runId: Type.String({ minLength: 1, maxLength: 64 }),
    /** Report what would change and touch nothing. */
    check: Type.Boolean(),
    /** Include diffs in results. */
    diff: Type.Boolean(),
    tasks: Type.Array(task, { maxItems: 500 }),
    handlers: Type.Array(task, { maxItems: 50 }),
  });
}
