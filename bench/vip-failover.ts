/**
 * VIP failover benchmark (issue "VIP failover"): Ballast's etcd-lease VIP against Debian's
 * keepalived (VRRP, advert_int 1) on the same three real systemd lab hosts, same VIP, same service
 * (etcd's /health over mTLS), same client probe (HTTPS every 20 ms from its own namespace) and the
 * same address sampler (every host, every 20 ms). Rounds alternate ABBA between the two keepers.
 * Scenarios: holder power cut, graceful move, partition. JSON on stdout (and --out); the markdown
 * table on stderr. Root only. It does not take the shared lab lock itself: run it under
 * `flock /tmp/ballast-lab.lock`.
 *
 *   npm run build && flock /tmp/ballast-lab.lock node dist/bench/vip-failover.js [--rounds 20] [--out FILE]
 *   (BALLAST_VIP_BENCH_ROUNDS also sets the rounds.)
 */
import { writeFileSync } from 'node:fs';
import { downFromState } from '../test/lab/tool/teardown.js';
import { labDir } from '../test/lab/tool/state.js';
import { benchTable, runVipBench } from '../test/lab/vip/bench.js';
import { VipLab } from '../test/lab/vip/setup.js';
import { benchArgs, usageError } from './lib/args.js';

const USAGE = `usage: flock /tmp/ballast-lab.lock node dist/bench/vip-failover.js [--rounds N] [--out FILE] [--max-seconds N]

Ballast's VIP against keepalived on three real lab hosts (root): holder power cut, graceful move,
partition; rounds alternate ABBA. JSON on stdout, the markdown table on stderr.

  --rounds N        rounds per scenario and keeper, 1..200 (default 20; BALLAST_VIP_BENCH_ROUNDS)
  --out FILE        also write the JSON document to FILE
  --max-seconds N   hard bound on the whole run (default 5400)`;

const { values } = benchArgs(USAGE, {
  options: {
    rounds: { type: 'string', default: process.env.BALLAST_VIP_BENCH_ROUNDS ?? '20' },
    out: { type: 'string' },
    'max-seconds': { type: 'string', default: '5400' },
  },
});
const rounds = Number(values.rounds);
const maxSeconds = Number(values['max-seconds']);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 200 || !(maxSeconds > 0)) {
  usageError('--rounds takes 1..200, --max-seconds a positive number');
}
if (process.getuid?.() !== 0) {
  process.stderr.write('error: the VIP bench needs root (network namespaces, systemd-nspawn)\n');
  process.exit(2);
}

const log = (msg: string) => process.stderr.write(`vip-bench: ${msg}\n`);

async function main(): Promise<number> {
  if (await downFromState(labDir(), log)) log('removed a lab left over by an earlier run');
  const vl = await VipLab.create({ log, maxSeconds }, (name, ms) => log(`${name}: ${(ms / 1000).toFixed(1)} s`));
  // Bounded: a stuck round must not hold the shared lab for ever.
  const watchdog = setTimeout(() => {
    log(`aborting: --max-seconds ${maxSeconds} reached`);
    void vl.down().finally(() => process.exit(3));
  }, maxSeconds * 1000);
  try {
    const report = await runVipBench(vl, { rounds, log });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (values.out) writeFileSync(values.out, json);
    process.stdout.write(json);
    process.stderr.write(`\n${benchTable(report)}\n\nverdict ${JSON.stringify(report.verdict)}\n`);
    return report.verdict.ballastDualOk ? 0 : 1;
  } finally {
    clearTimeout(watchdog);
    await vl.down(`${labDir()}.last-vip-traces`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vip-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
