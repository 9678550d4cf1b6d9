/**
 * The bootstrap benches' floor scripts (bench/bootstrap.ts, bench/kube-bootstrap.ts) change etcd's
 * membership by hand the way an operator's script would: `etcdctl member add --learner` and
 * `member promote` on the first member, retried only while etcd refuses for a reason that passes
 * by itself — above all "unhealthy cluster" (the strict reconfig check refuses the next change
 * until every voter has been connected for 5 s) and "not in sync with leader" for a promote.
 */
import { writeFileSync } from 'node:fs';
import { sleep } from '../../test/lab/tool/exec.js';

/** etcdctl on a member against its own loopback client URL, with the health-check client certificate. */
export const LOCAL_ETCDCTL = [
  'env',
  'ETCDCTL_API=3',
  '/usr/local/bin/etcdctl',
  '--endpoints',
  'https://127.0.0.1:2379',
  '--cacert',
  '/etc/etcd/pki/ca.crt',
  '--cert',
  '/etc/etcd/pki/healthcheck-client.crt',
  '--key',
  '/etc/etcd/pki/healthcheck-client.key',
];

/** How etcdctl reports each change, and which refusals pass by themselves. */
export const MEMBER_CHANGE = {
  // The simple output names the id in hex, padded to 16 columns ("Member  76740f2… added").
  add: { accepted: /Member\s+([0-9a-f]+)\s+added/, retryable: /unhealthy cluster|not enough started members|leader changed|request timed out/ },
  promote: { accepted: /Member\s+([0-9a-f]+)\s+promoted/, retryable: /in sync with leader|not ready|leader changed|request timed out/ },
} as const;

export interface UntilAcceptedOptions {
  /** Runs argv on the first member. */
  exec: (argv: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;
  retryMs: number;
  limitMs: number;
  /** Told each new refusal reason once. */
  onRefused?: (reason: string) => void;
  /** Before giving up (diagnostics). */
  onGiveUp?: () => Promise<void>;
}

/**
 * Runs a membership change until etcd accepts it and returns the member id it names; retries only
 * `change.retryable` refusals, for at most `limitMs`. Returns how long refusals held it up.
 */
export async function untilAccepted(
  what: string,
  argv: string[],
  change: { accepted: RegExp; retryable: RegExp },
  opts: UntilAcceptedOptions,
): Promise<{ id: string; heldMs: number; lastRefusal: string }> {
  const since = Date.now();
  let last = '';
  for (;;) {
    const r = await opts.exec(argv);
    const id = change.accepted.exec(r.stdout)?.[1];
    if (r.code === 0 && id !== undefined) return { id, heldMs: Date.now() - since, lastRefusal: last };
    const reason = /^Error: (.*)$/m.exec(r.stderr)?.[1] ?? `${r.stdout}${r.stderr}`.trim();
    const retryable = change.retryable.test(reason);
    if (!retryable || Date.now() - since > opts.limitMs) {
      await opts.onGiveUp?.();
      throw new Error(`${what}: etcd refused${retryable ? ` for ${opts.limitMs} ms` : ''}: ${reason}`);
    }
    if (reason !== last) opts.onRefused?.(reason);
    last = reason;
    await sleep(opts.retryMs);
  }
}

/** A bench's entry point: exit code from `main`, or 1 with the stack. */
export function runBench(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name} bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * A lab bench's body with a watchdog (`maxSeconds`: tear the lab down and exit 3) and the lab
 * always torn down; the report it returns is printed as JSON and written to `out` when given.
 */
export async function runOnLab(
  env: { teardown(): Promise<void> },
  opts: { maxSeconds: number; out: string | undefined; log: (msg: string) => void },
  body: () => Promise<unknown>,
): Promise<number> {
  const watchdog = setTimeout(() => {
    opts.log(`aborting: --max-seconds ${opts.maxSeconds} reached`);
    void env.teardown().finally(() => process.exit(3));
  }, opts.maxSeconds * 1000);
  try {
    const json = `${JSON.stringify(await body(), null, 2)}\n`;
    if (opts.out) writeFileSync(opts.out, json);
    process.stdout.write(json);
    return 0;
  } finally {
    clearTimeout(watchdog);
    await env.teardown();
  }
}
