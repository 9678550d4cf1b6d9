import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { BallastError } from '../../../shared/src/errors.js';
import { silentLogger } from '../../../shared/src/log.js';
import { type RunEvent, RunEventSchema, RunSummarySchema } from '../../../shared/src/protocol/messages.js';
import { SECRET_DIFF } from '../../../shared/src/tasks/secrets.js';
import type { Task } from '../../../shared/src/tasks/task.js';
import { createTaskEngine } from './engine.js';
import type { ModuleContext, ModuleOutcome } from './module.js';
import { createModuleRegistry, type ModuleRegistry } from './registry.js';
import { FakeSystemd, fakeExec, makeTempRoot, rejection } from './testing.js';

const checkEvent = TypeCompiler.Compile(RunEventSchema);
const checkSummary = TypeCompiler.Compile(RunSummarySchema);

/**
 * A registry whose `command` tasks act out argv[0]: ok, changed, skip, fail, io (an errno error),
 * hang (waits for the abort signal). Every run is recorded with the context flags it saw.
 */
function scriptedRegistry() {
  const ran: { name: string; check: boolean; diff: boolean }[] = [];
  const registry: ModuleRegistry = {
    names: () => ['command'],
    validate: () => null,
    async run(_module, args, ctx: ModuleContext): Promise<ModuleOutcome> {
      const [behaviour = 'ok', name = behaviour] = (args as { argv: string[] }).argv;
      ran.push({ name, check: ctx.check, diff: ctx.diff });
      switch (behaviour) {
        case 'changed':
          return { changed: true, message: `changed ${name}`, diff: `-a\n+b\n` };
        case 'skip':
          return { changed: false, skipped: true, message: 'would run' };
        case 'fail':
          throw new BallastError('BALLAST_ERR_COMMAND_FAILED', 'failed to run x: exit 1', { path: '/args/argv/0' });
        case 'io':
          throw Object.assign(new Error('EACCES: permission denied, open /etc/x'), { code: 'EACCES', syscall: 'open' });
        case 'hang':
          return new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
          });
        default:
          return { changed: false, message: `ok ${name}` };
      }
    },
  };
  return { registry, ran };
}

const t = (behaviour: string, name = behaviour, notify?: string[]): Task => ({ name, module: 'command', args: { argv: [behaviour, name] }, notify });

async function engineFor(registry: ModuleRegistry) {
  return createTaskEngine({
    registry,
    log: silentLogger(),
    ctxBase: { root: await makeTempRoot(), log: silentLogger(), exec: fakeExec(), systemd: new FakeSystemd() },
  });
}

function request(tasks: Task[], handlers: Task[] = [], opts: { check?: boolean; diff?: boolean; runId?: string; timeoutMs?: number } = {}) {
  return {
    type: 'req.run' as const,
    id: 'req-1',
    timeoutMs: opts.timeoutMs ?? 60_000,
    run: { runId: opts.runId ?? 'run-1', check: opts.check ?? false, diff: opts.diff ?? true, tasks, handlers },
  };
}

function collector() {
  const events: Omit<RunEvent, 'type'>[] = [];
  const emit = (e: Omit<RunEvent, 'type'>) => {
    expect(checkEvent.Check({ type: 'run.event', ...e }), JSON.stringify(e)).toBe(true);
    events.push(e);
  };
  const finished = () => events.filter((e) => e.state === 'finished').map((e) => `${e.phase}:${e.name}:${e.result?.status}`);
  return { events, emit, finished };
}

describe('task engine', () => {
  it('runs tasks in order and emits started/finished with results', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { events, emit, finished } = collector();
    const summary = await engine.run(request([t('ok', 'a'), t('changed', 'b'), t('skip', 'c')]), emit);
    expect(ran.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(events.map((e) => `${e.index}:${e.state}`)).toEqual(['0:started', '0:finished', '1:started', '1:finished', '2:started', '2:finished']);
    expect(finished()).toEqual(['task:a:ok', 'task:b:changed', 'task:c:skipped']);
    expect(events[3]?.result).toMatchObject({ status: 'changed', message: 'changed b', diff: '-a\n+b\n', notified: [] });
    expect(summary).toMatchObject({ runId: 'run-1', ok: 1, changed: 1, failed: 0, skipped: 1, cancelled: false });
    expect(checkSummary.Check(summary)).toBe(true);
    expect(engine.currentRunId).toBeNull();
  });

  it('skips every task after the first failure and runs no handlers', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { events, emit, finished } = collector();
    const summary = await engine.run(request([t('changed', 'a', ['h']), t('fail', 'b'), t('ok', 'c')], [t('ok', 'h')]), emit);
    expect(ran.map((r) => r.name)).toEqual(['a', 'b']);
    expect(finished()).toEqual(['task:a:changed', 'task:b:failed', 'task:c:skipped']);
    expect(events[3]?.result?.error).toEqual({ code: 'BALLAST_ERR_COMMAND_FAILED', message: 'failed to run x: exit 1', path: '/args/argv/0' });
    expect(events[5]?.result?.message).toBe('skipped: an earlier task failed');
    expect(summary).toMatchObject({ ok: 0, changed: 1, failed: 1, skipped: 1 });
  });

  it('runs notified handlers once each, in their defined order, only for tasks that changed', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, finished, events } = collector();
    const tasks = [t('ok', 'unchanged', ['A']), t('changed', 'c1', ['B']), t('changed', 'c2', ['C', 'B'])];
    const handlers = [t('changed', 'A'), t('changed', 'B'), t('ok', 'C'), t('ok', 'D')];
    const summary = await engine.run(request(tasks, handlers), emit);
    expect(ran.map((r) => r.name)).toEqual(['unchanged', 'c1', 'c2', 'B', 'C']);
    expect(finished()).toEqual(['task:unchanged:ok', 'task:c1:changed', 'task:c2:changed', 'handler:B:changed', 'handler:C:ok']);
    expect(events.filter((e) => e.phase === 'handler').map((e) => e.index)).toEqual([1, 1, 2, 2]);
    expect(events[1]?.result?.notified).toEqual([]);
    expect(events[5]?.result?.notified).toEqual(['C', 'B']);
    expect(summary).toMatchObject({ ok: 2, changed: 3, failed: 0, skipped: 0 });
  });

  it('passes check and diff to modules, and drops diffs unless asked', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events } = collector();
    await engine.run(request([t('changed', 'a')], [], { check: true, diff: false }), emit);
    expect(ran).toEqual([{ name: 'a', check: true, diff: false }]);
    expect(events[1]?.result).toMatchObject({ status: 'changed', diff: '' });
  });

  it('hides the diff of a task marked sensitive', async () => {
    const { registry } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events } = collector();
    await engine.run(request([{ ...t('changed', 'key'), sensitive: true } as Task]), emit);
    expect(events[1]?.result).toMatchObject({ status: 'changed', diff: SECRET_DIFF });
  });

  it('fails a task that notifies an unknown handler without running it', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events } = collector();
    await engine.run(request([t('changed', 'a', ['nope'])]), emit);
    expect(ran).toEqual([]);
    expect(events[1]?.result?.error).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/tasks/0/notify' });
  });

  it('turns filesystem errors into BALLAST_ERR_IO', async () => {
    const { registry } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events } = collector();
    await engine.run(request([t('io')]), emit);
    expect(events[1]?.result?.error).toEqual({ code: 'BALLAST_ERR_IO', message: 'EACCES: permission denied, open /etc/x' });
  });

  it('fails a task with bad arguments with the field path, never running it (real registry)', async () => {
    const engine = await engineFor(createModuleRegistry());
    const { emit, events } = collector();
    const bad = { name: 'bad', module: 'file', args: { path: '/etc/x', content: 'x', mode: 'rw-r--r--' } } as unknown as Task;
    const summary = await engine.run(request([bad, t('ok', 'after')]), emit);
    expect(events[1]?.result).toMatchObject({ status: 'failed', error: { code: 'BALLAST_ERR_VALIDATION', path: '/args/mode' } });
    expect(events[3]?.result?.status).toBe('skipped');
    expect(summary).toMatchObject({ failed: 1, skipped: 1 });
  });

  it('cancel aborts the current task, skips the rest and runs no handlers', async () => {
    const { registry, ran } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events, finished } = collector();
    const pending = engine.run(request([t('changed', 'a', ['h']), t('hang', 'b'), t('ok', 'c')], [t('ok', 'h')]), (e) => {
      emit(e);
      if (e.name === 'b' && e.state === 'started') setTimeout(() => expect(engine.cancel('run-1')).toBe(true), 10);
    });
    const summary = await pending;
    expect(ran.map((r) => r.name)).toEqual(['a', 'b']);
    expect(finished()).toEqual(['task:a:changed', 'task:b:failed', 'task:c:skipped']);
    expect(events[3]?.result?.error?.code).toBe('BALLAST_ERR_CANCELLED');
    expect(events[5]?.result?.message).toBe('skipped: run cancelled');
    expect(summary).toMatchObject({ changed: 1, failed: 1, skipped: 1, cancelled: true });
    expect(engine.cancel('run-1')).toBe(false);
  });

  it('refuses a second concurrent run, and accepts one after', async () => {
    const { registry } = scriptedRegistry();
    const engine = await engineFor(registry);
    const first = engine.run(request([t('hang')], [], { runId: 'one' }), () => {});
    expect(engine.currentRunId).toBe('one');
    expect(await rejection(engine.run(request([t('ok')], [], { runId: 'two' }), () => {}))).toMatchObject({ code: 'BALLAST_ERR_RUN_BUSY' });
    expect(engine.cancel('two')).toBe(false);
    expect(engine.cancel('one')).toBe(true);
    expect((await first).cancelled).toBe(true);
    expect((await engine.run(request([t('ok')], [], { runId: 'three' }), () => {})).ok).toBe(1);
  });

  it('stops at the request deadline, since nobody awaits the answer after it', async () => {
    const { registry } = scriptedRegistry();
    const engine = await engineFor(registry);
    const { emit, events } = collector();
    const summary = await engine.run(request([t('hang'), t('ok')], [], { timeoutMs: 50 }), emit);
    expect(summary).toMatchObject({ failed: 1, skipped: 1, cancelled: true });
    expect(events[3]?.result?.message).toBe('skipped: run deadline');
  });

  it('survives an emit that throws', async () => {
    const { registry } = scriptedRegistry();
    const engine = await engineFor(registry);
    const summary = await engine.run(request([t('ok')]), () => {
      throw new Error('socket gone');
    });
    expect(summary.ok).toBe(1);
  });
});
