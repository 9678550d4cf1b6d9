import { hostname } from 'node:os';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { BallastError, messageOf } from '../../shared/src/errors.js';
import { createLogger } from '../../shared/src/log.js';
import { exitOnSignals } from '../../shared/src/lifecycle/signals.js';
import { PACKAGE_VERSION } from '../../shared/src/version.js';
import { DEFAULT_AGENT_DATA_DIR } from './config.js';
import type { RunningAgent } from './run.js';

const percent = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('must be a number from 0 to 100');
  return n;
};

const program = new Command('ballast-agent')
  .description('Ballast agent: enrols this host with the controller and keeps it reporting and healthy.')
  .version(PACKAGE_VERSION, '--version')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? s : `error: ${s}`) });

program
  .command('join')
  .description('enrol this host: pin the controller CA by hash, prove the join token, get a client certificate')
  .requiredOption('--server <url>', 'controller URL, e.g. https://10.0.0.1:9443')
  .requiredOption('--token <token>', 'join token from `ballastctl token create`')
  .requiredOption('--ca-hash <sha256:hex>', "sha256 of the controller CA's public key (printed with the token)")
  .option('--name <name>', 'host name to enrol as', hostname().toLowerCase())
  .option('--data-dir <dir>', 'where agent.yaml and the credentials go', DEFAULT_AGENT_DATA_DIR)
  .option('--force', 'enrol again even if this host is already joined', false)
  .option('--no-start', 'do not enable and start the ballast-agent service afterwards')
  .addHelpText('after', '\nExample:\n  ballast-agent join --server https://198.18.0.2:9443 --token abcdef.0123456789abcdef --ca-hash sha256:…')
  .action(async (o: { server: string; token: string; caHash: string; name: string; dataDir: string; force: boolean; start: boolean }) => {
    const log = createLogger({ name: 'ballast-agent' });
    // Imported per command: the daemon (`run`) must not hold join's modules in memory for its whole life.
    const [{ joinController }, { agentUnitInstalled, enableAgentService }] = await Promise.all([import('./join.js'), import('./agent-unit.js')]);
    const config = await joinController({ ...o, log });
    process.stdout.write(`joined ${config.server} as "${config.name}" (host id ${config.hostId}); credentials in ${o.dataDir}\n`);
    if (o.start && agentUnitInstalled()) {
      await enableAgentService();
      process.stdout.write('started ballast-agent.service\n');
    } else if (o.start) {
      process.stdout.write(`start the agent with: ballast-agent run --data-dir ${o.dataDir}\n`);
    }
  });

program
  .command('run')
  .description('run the agent daemon (normally started by systemd)')
  .option('--data-dir <dir>', 'where agent.yaml and the credentials are', DEFAULT_AGENT_DATA_DIR)
  .option('--disk-check-path <path>', 'filesystem whose free space is checked', '/')
  .option('--min-free-disk-percent <n>', 'report degraded below this free space', percent, 5)
  .option('--min-available-memory-percent <n>', 'report degraded below this available memory', percent, 5)
  .option('--log-level <level>', 'log level', process.env.BALLAST_LOG_LEVEL ?? 'info')
  .action(async (o: { dataDir: string; diskCheckPath: string; minFreeDiskPercent: number; minAvailableMemoryPercent: number; logLevel: string }) => {
    const log = createLogger({ name: 'ballast-agent', level: o.logLevel });
    const { runAgent } = await import('./run.js');
    const agent: RunningAgent = await runAgent({ ...o, log });
    exitOnSignals({ log, stop: () => agent.stop(), forceAfterMs: 5000, exit: (code) => process.exit(code) });
  });

program
  .command('facts')
  .description("print this host's facts (OS, CPU, memory, disks, NICs) as JSON, as the agent reports them to the controller")
  .addHelpText('after', '\nThe daemon runs this command as a short-lived child at each connect, so that it never loads\nsysteminformation itself (README "Performance").')
  .action(async () => {
    const [{ collectFacts }, { systemInformationPort }] = await Promise.all([import('./facts.js'), import('./facts-si.js')]);
    process.stdout.write(`${JSON.stringify(await collectFacts({ si: systemInformationPort() }))}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const usage = err instanceof BallastError && (err.code === 'BALLAST_ERR_VALIDATION' || err.code === 'BALLAST_ERR_CONFIG');
  // The code goes last in brackets: people read the message, scripts match the code.
  process.stderr.write(`error: ${messageOf(err)}${err instanceof BallastError ? ` [${err.code}]` : ''}\n`);
  process.exit(usage ? 2 : 1);
});
