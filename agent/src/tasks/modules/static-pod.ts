/**
 * `static_pod`: parks a kubeadm control-plane static pod (its manifest renamed from
 * /etc/kubernetes/manifests to /etc/kubernetes/ballast-parked, where the kubelet does not look,
 * so it stops the pod) or makes it active again. Why not stop the kubelet: containerd keeps a
 * pod's containers running when the kubelet stops, so the API server would keep serving; moving
 * the manifest is how kubeadm's own etcd recovery guides stop it. The manifest is never rewritten:
 * both places are in /etc/kubernetes (one file system), so each move is one atomic rename.
 *
 * Idempotent: parked with the manifest already parked (or active with it already active) is
 * unchanged; with the manifest in neither place the task fails (nothing to park: not a control
 * plane, or a kubeadm reset ran) — unless parking, where "not running" is what was asked.
 *
 * Parking with `waitPortClosed` waits until nothing listens on that port. With `killAfterMs`, a
 * pod still listening that long after its manifest moved is ended with SIGKILL — only a process
 * whose name is the pod's (`kube-apiserver`) and that holds the listening socket itself
 * (port-listeners.ts); the kubelet would do the same after the pod's 30 s grace. The recovery uses
 * it: an API server whose etcd lost quorum does not finish its graceful shutdown, so every park
 * took the full 30 s (bench/recover-rto.ts, 2026-12-07).
 */
import { mkdir, rename } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BallastError } from '../../../../shared/src/errors.js';
import { tree } from '../../../../shared/src/tasks/safety.js';
import { portListeners } from '../../host/port-listeners.js';
import { lstatOrNull } from '../attrs.js';
import type { Module, ModuleContext, ModuleOutcome } from '../module.js';
import { safePath } from '../safe-path.js';

export const MANIFEST_DIR = '/etc/kubernetes/manifests';
export const PARKED_DIR = '/etc/kubernetes/ballast-parked';
const RULES = [tree(MANIFEST_DIR), tree(PARKED_DIR)];

/** See the file comment. */
export const staticPodModule: Module<'static_pod'> = {
  name: 'static_pod',
  async run(args, ctx) {
    const active = await safePath(ctx, `${MANIFEST_DIR}/${args.name}.yaml`, RULES, 'move static pod manifest');
    const parked = await safePath(ctx, `${PARKED_DIR}/${args.name}.yaml`, RULES, 'move static pod manifest');
    const [isActive, isParked] = [(await lstatOrNull(active)) !== null, (await lstatOrNull(parked)) !== null];
    const from = args.state === 'parked' ? active : parked;
    const to = args.state === 'parked' ? parked : active;
    const [fromPath, toPath] = args.state === 'parked' ? [`${MANIFEST_DIR}`, `${PARKED_DIR}`] : [`${PARKED_DIR}`, `${MANIFEST_DIR}`];
    const here = args.state === 'parked' ? isActive : isParked;
    const there = args.state === 'parked' ? isParked : isActive;
    if (here && there) {
      throw new BallastError('BALLAST_ERR_UNSAFE_PATH', `failed to move ${args.name}.yaml: it is both in ${MANIFEST_DIR} and in ${PARKED_DIR}; remove the stale one yourself`, { path: '/args/name' });
    }
    let outcome: ModuleOutcome;
    if (!here) {
      if (!there && args.state === 'active') {
        throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to activate ${args.name}: no manifest in ${PARKED_DIR} or ${MANIFEST_DIR}`, { path: '/args/name' });
      }
      outcome = { changed: false, message: there ? `${args.name} is already ${args.state}` : `${args.name} has no manifest on this host: nothing to park` };
    } else {
      const diff = ctx.diff ? `~ ${fromPath}/${args.name}.yaml → ${toPath}/${args.name}.yaml\n` : undefined;
      if (ctx.check) return { changed: true, message: `would move ${args.name}.yaml to ${toPath} (${args.state})`, diff };
      await mkdir(dirname(to), { recursive: true, mode: 0o700 });
      await rename(from, to);
      outcome = { changed: true, message: `moved ${args.name}.yaml to ${toPath} (${args.state})`, diff };
    }
    if (args.state === 'parked' && args.waitPortClosed !== undefined && !ctx.check) {
      const killed = await waitClosed({ port: args.waitPortClosed, timeoutMs: args.timeoutMs ?? 120_000, killAfterMs: args.killAfterMs ?? null, name: args.name }, ctx);
      if (killed.length > 0) outcome = { ...outcome, message: `${outcome.message}; ${args.name} still listened on ${args.waitPortClosed} after ${args.killAfterMs} ms: killed PID ${killed.join(', ')}` };
    }
    return outcome;
  },
};

/**
 * Polls 127.0.0.1:`port` until nothing accepts a connection (the kubelet stopped the pod); past
 * `killAfterMs`, once, SIGKILLs the listeners named `name`. Resolves with the PIDs it killed.
 */
async function waitClosed(o: { port: number; timeoutMs: number; killAfterMs: number | null; name: string }, ctx: ModuleContext): Promise<number[]> {
  const started = Date.now();
  let killed: number[] | null = null;
  while (await accepts(o.port)) {
    const waited = Date.now() - started;
    if (waited > o.timeoutMs) {
      throw new BallastError('BALLAST_ERR_GATE', `failed to stop ${o.name}: something still listens on port ${o.port} ${o.timeoutMs} ms after its manifest was parked (is the kubelet running?)`);
    }
    if (killed === null && o.killAfterMs !== null && waited >= o.killAfterMs) {
      killed = [];
      for (const l of await portListeners(o.port)) {
        if (l.comm !== o.name) continue;
        try {
          process.kill(l.pid, 'SIGKILL');
          killed.push(l.pid);
          ctx.log.warn({ pid: l.pid, port: o.port, waitedMs: waited }, `${o.name} did not stop after its manifest was parked: killed`);
        } catch {
          // It ended by itself meanwhile.
        }
      }
    }
    await sleep(killed === null ? 250 : 500, undefined, { signal: ctx.signal });
  }
  return killed ?? [];
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
