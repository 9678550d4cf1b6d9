/**
 * The lab CLI (run as root): scripts/lab or `npm run lab -- <command>`.
 *
 *   up [--hosts N] [--no-join] [--controller package|repo]   build the lab and print ballastctl hosts
 *   status                                                   resources and the controller's view
 *   exec HOST CMD...                                         run a command inside a host
 *   ctl ARGS...                                              ballastctl against the lab controller
 *   partition HOST | heal HOST                               switch port down / up
 *   poweroff HOST | poweron HOST                             clean container shutdown / boot
 *   down                                                     tear everything down (idempotent)
 *   bundle                                                   build the real-Kubernetes lab bundle (cli-kube.ts)
 *   cluster [--control-planes N]                             real Kubernetes on the lab (cli-kube.ts)
 */
import { kubeCommand } from './cli-kube.js';
import { Lab } from './lab.js';
import { downFromState } from './teardown.js';
import { ensurePackages } from './packages.js';
import { labDir } from './state.js';
import { labStatus } from './status.js';

const log = (msg: string) => process.stderr.write(`lab: ${msg}\n`);
const USAGE =
  'usage: lab up [--hosts N] [--no-join] [--controller package|repo] | status | exec HOST CMD... | ctl ARGS... | partition HOST | heal HOST | poweroff HOST | poweron HOST | down | bundle | cluster [--control-planes N]';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (process.getuid?.() !== 0 && command !== undefined && command !== 'help') {
    log('must run as root (network namespaces, mounts, systemd-nspawn)');
    return 1;
  }
  switch (command) {
    case 'up':
      return up(rest);
    case 'down': {
      const had = await downFromState(labDir(), log);
      if (!had) log('no lab to tear down');
      return 0;
    }
    case 'bundle':
    case 'cluster':
      return kubeCommand(command, rest, log);
    case 'status':
      process.stdout.write(`${await labStatus(Lab.attach(labDir(), log))}\n`);
      return 0;
    case 'exec': {
      const [host, ...cmd] = rest;
      if (!host || cmd.length === 0) return usage();
      const r = await Lab.attach(labDir(), log).exec(host, cmd, { allowFail: true, timeoutMs: 10 * 60_000 });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.code ?? 1;
    }
    case 'ctl':
      // Streams (`ctl events -f` prints as events come) and forwards Ctrl-C / kill to ballastctl.
      return Lab.attach(labDir(), log).ctlStreaming(rest);
    case 'partition':
    case 'heal':
    case 'poweroff':
    case 'poweron': {
      const [host] = rest;
      if (!host) return usage();
      const lab = Lab.attach(labDir(), log);
      const t0 = Date.now();
      await lab[command](host);
      log(`${command} ${host} done in ${Date.now() - t0} ms`);
      return 0;
    }
    case 'help':
    case '--help':
    case undefined:
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      return usage();
  }
}

function usage(): number {
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

async function up(args: string[]): Promise<number> {
  let hosts = 3;
  let join = true;
  let controller: 'package' | 'repo' | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--hosts') hosts = Number(args[++i]);
    else if (a === '--no-join') join = false;
    else if (a === '--controller') {
      const v = args[++i];
      if (v !== 'package' && v !== 'repo') return usage();
      controller = v;
    } else return usage();
  }
  // Ctrl-C while building: the state file names everything made so far; tear it down, then exit.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: tearing the lab down');
    downFromState(labDir(), log).then(
      () => process.exit(130),
      (err: unknown) => {
        log(String(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Hosts install the agent from the controller's packages: rebuild them when the code changed, or a
  // lab would run yesterday's agent (returns at once when they are current).
  if (controller !== 'repo') await ensurePackages(log);
  const lab = await Lab.up({ hosts, join, controller, log });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (join) {
    const r = await lab.ctl(['hosts'], { allowFail: true });
    process.stdout.write(r.stdout);
  }
  log(`try: scripts/lab status | scripts/lab ctl hosts | scripts/lab exec host1 systemctl status ballast-agent | scripts/lab down`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
