/**
 * Operations under fire (`cluster create`, `cluster recover`), shared by the stand-in bootstrap lab and the real-Kubernetes lab:
 * the operation started without following it, the controller SIGKILLed at `kills` random points
 * (reproducible from the printed seed) and restarted, then waited for until it settles.
 */
import type { OperationDocument } from '../../shared/src/ops-api.js';
import { prng } from '../support/prng.js';
import { StopWaiting, sleep, waitUntil } from './tool/exec.js';
import type { Lab } from './tool/lab.js';

/** One line on an operation's end: state, and where and why it stopped. */
export const explainOp = (doc: OperationDocument): string =>
  `${doc.id} ${doc.state}: ${doc.error === null ? '' : `${doc.error.code} at ${doc.error.stepKey} on ${doc.error.host ?? '-'}: ${doc.error.message}`}`;

/** The operation's document (undefined while ballastctl cannot answer: a restarting controller). */
export async function opDoc(lab: Lab, id: string): Promise<OperationDocument | undefined> {
  const r = await lab.ctl(['op', id, '-o', 'json'], { allowFail: true, timeoutMs: 15_000 });
  if (r.code !== 0 && r.stdout.trim() === '') return undefined;
  return JSON.parse(r.stdout) as OperationDocument;
}

/** Waits until the operation is no longer pending/running (bounded), tolerating a restarting controller. */
export function settleOp(lab: Lab, id: string, timeoutMs: number): Promise<OperationDocument> {
  return waitUntil(
    `operation ${id} to settle`,
    async () => {
      const doc = await opDoc(lab, id);
      return doc === undefined || doc.state === 'running' || doc.state === 'pending' ? undefined : doc;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** An operation that ran with controller SIGKILLs. */
export interface KilledCreate {
  done: OperationDocument;
  /** Where each kill landed: `step-key (N done)`. */
  killed: string[];
}

/**
 * Starts `cluster create -f clusterFile` and SIGKILLs the controller `kills` times at distinct
 * random points after validation, none among the last six steps (they take well under a second
 * each: a poll that spawns ballastctl could see the operation finished and miss the kill — CI
 * once counted 4 of 5).
 */
export function createWithControllerKills(lab: Lab, clusterFile: string, opts: { kills: number; timeoutMs: number }): Promise<KilledCreate> {
  return opWithControllerKills(lab, ['cluster', 'create', '-f', clusterFile, '--yes'], {
    ...opts,
    points: (doc, random) => {
      const total = doc.progress.total;
      const points = new Set<number>();
      while (points.size < opts.kills) points.add(2 + Math.floor(random() * (total - 8)));
      return [...points];
    },
  });
}

/**
 * Starts the operation `start` (ballastctl arguments; `--no-follow -o json` are added) and
 * SIGKILLs the controller once the operation has done each of the step counts `points` picks
 * (from the started document and a PRNG seeded from BALLAST_KILL_SEED or the clock, printed),
 * restarting it after a random pause of up to 1.5 s; then waits until the operation settles.
 * `beforeKill`, when given, runs once each point is reached and before that kill (bounded by the
 * caller): to land a kill inside what a step does on a host, e.g. while `kubeadm join` runs there.
 */
export async function opWithControllerKills(
  lab: Lab,
  start: string[],
  opts: { timeoutMs: number; points: (started: OperationDocument, random: () => number) => number[]; beforeKill?: (doc: OperationDocument) => Promise<void> },
): Promise<KilledCreate> {
  const seed = Number(process.env.BALLAST_KILL_SEED ?? Date.now() % 1_000_000);
  console.log(`SEED ${seed} (rerun with BALLAST_KILL_SEED=${seed})`);
  const random = prng(seed); // mulberry32: the kill points are reproducible from the printed seed
  const started = await lab.ctlJson<OperationDocument>([...start, '--no-follow', '-o', 'json'], { timeoutMs: 60_000 });
  const total = started.progress.total;
  const kills = [...new Set(opts.points(started, random))].sort((a, b) => a - b);
  console.log(`${started.id}: kill points (steps done): ${kills.join(', ')} of ${total}`);
  const killed: string[] = [];
  for (const at of kills) {
    const doc = await waitUntil(
      `operation to pass step ${at}`,
      async () => {
        const d = await opDoc(lab, started.id);
        if (d === undefined) return undefined;
        // StopWaiting: a plain error is retried by waitUntil until its timeout (10 minutes of a held lab).
        if (d.state === 'paused' || d.state === 'failed') throw new StopWaiting(explainOp(d));
        return d.progress.done >= at || d.state === 'succeeded' ? d : undefined;
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 100 },
    );
    if (doc.state === 'succeeded') break;
    await opts.beforeKill?.(doc);
    await lab.killController();
    killed.push(`${doc.current?.key ?? '?'} (${doc.progress.done} done)`);
    await sleep(Math.floor(random() * 1500));
    await lab.startController();
  }
  console.log(`SIGKILLed the controller during: ${killed.join(', ')}`);
  return { done: await settleOp(lab, started.id, opts.timeoutMs), killed };
}
