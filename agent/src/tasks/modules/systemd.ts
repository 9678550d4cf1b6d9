import { BallastError } from '../../../../shared/src/errors.js';
import { ROLE_UNITS, UNIT_DIR, UNIT_PATHS } from '../../../../shared/src/tasks/safety.js';
import { unitProblems } from '../../../../shared/src/tasks/unit-safety.js';
import { STOPPED_STATES, type UnitActiveState } from '../../host/ports.js';
import { ensureManagedFile } from '../managed-file.js';
import type { Module } from '../module.js';

/**
 * The schema's key pattern for drop-in names is not enforced (TypeBox records become
 * patternProperties, which let other keys through), so names are checked here before any path is built.
 */
const DROP_IN_NAME = /^[A-Za-z0-9._-]+\.conf$/;

/** Up or on its way up: `started` has nothing to do. */
const UP_STATES: ReadonlySet<UnitActiveState> = new Set(['active', 'reloading', 'activating']);

/**
 * `systemd`: unit file and drop-ins (managed files), `daemon-reload` only when one of their
 * contents changed, then the enabled flag and the run state. `restarted` always restarts: it is
 * what handlers use, and a handler runs only when something it depends on changed. In check mode
 * systemd is asked for the current state and nothing is changed.
 */
export const systemdModule: Module<'systemd'> = {
  name: 'systemd',
  async run(args, ctx) {
    const { unit } = args;
    // Only the units the roles install: stopping or overriding another (ssh.service) is not a task's business.
    if (!(ROLE_UNITS as readonly string[]).includes(unit)) {
      throw new BallastError('BALLAST_ERR_UNSAFE_VALUE', `failed to manage unit ${unit}: only the units the roles install (${ROLE_UNITS.join(', ')}) may be managed`, {
        path: '/args/unit',
      });
    }
    const actions: string[] = [];
    // One phrase per action, present tense for check mode ("would enable x"), past tense otherwise.
    const did = (present: string, past: string) => actions.push(ctx.check ? present : past);
    const diffs: string[] = [];
    let reload = false;
    const files: { path: string; content: string }[] = [];
    if (args.content !== undefined) files.push({ path: `${UNIT_DIR}/${unit}`, content: args.content });
    for (const name of Object.keys(args.dropIns ?? {}).sort()) {
      if (!DROP_IN_NAME.test(name)) {
        throw new BallastError('BALLAST_ERR_VALIDATION', `failed to validate drop-in name ${JSON.stringify(name)}: must match ${DROP_IN_NAME}`, {
          path: `/args/dropIns/${name}`,
        });
      }
      files.push({ path: `${UNIT_DIR}/${unit}.d/${name}`, content: args.dropIns?.[name] ?? '' });
    }
    // Every file is checked before any is written: a unit is code that runs as root (unit-safety.ts).
    for (const file of files) assertSafeUnit(file.path, file.content, file.path.endsWith('.conf') ? `/args/dropIns/${file.path.split('/').pop()}` : '/args/content');
    for (const file of files) {
      const outcome = await ensureManagedFile(ctx, { ...file, mode: '0644', allowed: UNIT_PATHS });
      if (!outcome.changed) continue;
      actions.push(outcome.message.replace(/^would /, '')); // already in the right tense
      if (outcome.diff) diffs.push(outcome.diff);
      reload ||= outcome.contentChanged;
    }
    if (reload) {
      did('daemon-reload', 'daemon-reloaded');
      if (!ctx.check) await ctx.systemd.daemonReload();
    }
    if (args.enabled !== undefined) {
      const enabled = await ctx.systemd.isEnabled(unit);
      if (enabled !== args.enabled) {
        did(`${args.enabled ? 'enable' : 'disable'} ${unit}`, `${args.enabled ? 'enabled' : 'disabled'} ${unit}`);
        diffs.push(`enabled: ${enabled} → ${args.enabled}\n`);
        if (!ctx.check) await (args.enabled ? ctx.systemd.enable(unit) : ctx.systemd.disable(unit));
      }
    }
    if (args.state === 'restarted' || (args.state === 'try-restarted' && (await ctx.systemd.isActive(unit)))) {
      did(`restart ${unit}`, `restarted ${unit}`);
      diffs.push(`state: restarted\n`);
      if (!ctx.check) await ctx.systemd.restart(unit);
    } else if (args.state === 'try-restarted') {
      // Not running: nothing to restart, and starting it is not this state's job.
    } else if (args.state !== undefined) {
      const state = await ctx.systemd.activeState(unit);
      const wantActive = args.state === 'started';
      // `deactivating` needs either action: stopping waits for it and cancels a start queued
      // meanwhile (the component supervisor's); starting queues one behind the stop. Found on
      // real Kubernetes: a reset's stop skipped an etcd still deactivating, and the supervisor's
      // queued start brought it back after the reset.
      const needed = wantActive ? !UP_STATES.has(state) : !STOPPED_STATES.has(state);
      if (needed) {
        did(`${wantActive ? 'start' : 'stop'} ${unit}`, `${wantActive ? 'started' : 'stopped'} ${unit}`);
        diffs.push(`state: ${state} → ${wantActive ? 'active' : 'inactive'}\n`);
        if (!ctx.check) await (wantActive ? ctx.systemd.start(unit) : ctx.systemd.stop(unit));
      }
    }
    if (actions.length === 0) return { changed: false, message: `${unit} is up to date` };
    if (!ctx.check) ctx.log.info({ unit, actions }, 'converged unit');
    const message = `${ctx.check ? 'would ' : ''}${actions.join(', ')}`;
    return { changed: true, message, diff: ctx.diff ? diffs.join('') : undefined };
  },
};

/** Refuses unit content that could run anything but the roles' binaries (first problem's code, every problem listed). */
function assertSafeUnit(path: string, content: string, at: string): void {
  const problems = unitProblems(content);
  if (problems.length === 0) return;
  const list = problems.slice(0, 5).map((p) => `line ${p.line}: ${p.message}`).join('; ');
  throw new BallastError(problems[0]!.code, `failed to write unit ${path}: ${list}`, { path: at });
}
