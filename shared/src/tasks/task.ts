import { type Static, Type } from '@sinclair/typebox';
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
    }),
  ),
);
export type Task = Static<typeof TaskSchema>;

/**
 * A run: ordered tasks plus handlers. A handler runs once, after all tasks, if any task that
 * notified it changed something (Ansible handler semantics: restart a service only when its config
 * changed). Handlers are tasks whose `name` is what `notify` refers to.
 */
export const RunSpecSchema = Type.Object({
  runId: Type.String({ minLength: 1, maxLength: 64 }),
  /** Report what would change and touch nothing. */
  check: Type.Boolean(),
  /** Include diffs in results. */
  diff: Type.Boolean(),
  tasks: Type.Array(TaskSchema, { maxItems: 500 }),
  handlers: Type.Array(TaskSchema, { maxItems: 50 }),
});
export type RunSpec = Static<typeof RunSpecSchema>;
