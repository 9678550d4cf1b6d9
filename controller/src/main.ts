import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../../shared/src/log.js';
import { isBallastError, messageOf } from '../../shared/src/errors.js';
import { DEFAULT_UPSTREAM_HOSTS } from './artifacts/upstream.js';
import { CONTROLLER_DEFAULTS, type ControllerFlags, validateControllerFlags } from './config.js';
import { createController } from './controller.js';
import { createNotifier } from '../../shared/src/sdnotify.js';
import { ServiceManager } from '../../shared/src/lifecycle/manager.js';
import { exitOnSignals } from '../../shared/src/lifecycle/signals.js';
import { systemdNotifyServices } from '../../shared/src/lifecycle/systemd.js';
import { PACKAGE_VERSION } from '../../shared/src/version.js';

const collect = (value: string, previous: string[]) => [...previous, value];

const program = new Command('ballast-controller')
  .description('Ballast controller: HTTPS API and agent websocket hub on one port, SQLite store, metrics.')
  .version(PACKAGE_VERSION, '--version')
  .option('--data-dir <dir>', 'state directory: CA, certificates, database, admin.conf', process.env.BALLAST_DATA_DIR ?? CONTROLLER_DEFAULTS.dataDir)
  .option('--listen <host:port>', 'address to serve the API and agent websockets on', process.env.BALLAST_LISTEN ?? CONTROLLER_DEFAULTS.listen)
  .option('--advertise-address <addr>', 'address agents and operators reach this controller at (repeatable; the first goes into join commands)', collect, [])
  .option('--heartbeat-interval <duration>', 'how often agents send a heartbeat', CONTROLLER_DEFAULTS.heartbeatInterval)
  .option('--health-interval <duration>', 'longest time between agent health snapshots', CONTROLLER_DEFAULTS.healthInterval)
  .option('--unreachable-after <duration>', 'silence after which a host is unreachable (default: 3 heartbeat intervals)')
  .option('--heartbeat-flush <duration>', 'heartbeat batch commit interval', CONTROLLER_DEFAULTS.heartbeatFlush)
  .option('--restart-grace <duration>', 'after a start, time every host has to reconnect before it can be marked unreachable', CONTROLLER_DEFAULTS.restartGrace)
  .option('--cert-validity-days <days>', 'lifetime of issued host certificates', CONTROLLER_DEFAULTS.certValidityDays)
  .option('--join-rate <per-second>', 'join attempts per second per source address, burst 5x (0 = unlimited)', CONTROLLER_DEFAULTS.joinRate)
  .option(
    '--artifact-upstream <host>',
    `a host \`artifacts fetch\` may download from or be redirected to (repeatable; replaces the default list: ${DEFAULT_UPSTREAM_HOSTS.join(', ')})`,
    collect,
    [],
  )
  .option(
    '--artifact-trust-key <file>',
    'an ed25519 public key (PEM, raw, base64 or hex) whose signed bundles an admin may import when the built-in catalogue does not pin them (repeatable; default: none)',
    collect,
    [],
  )
  .option('--snapshot-key <file>', 'etcd snapshot encryption key (64 hex digits; generated 0600 on first use; keep a copy off this host)', process.env.BALLAST_SNAPSHOT_KEY)
  .option('--snapshot-s3 <file>', 'JSON file naming an S3-compatible bucket for off-host snapshot copies (endpoint, region, bucket, prefix, credentialsFile)', process.env.BALLAST_SNAPSHOT_S3)
  .option('--drill-bin-dir <dir>', 'a directory holding etcd, etcdutl and kube-apiserver for restore drills (repeatable, searched in order)', collect, [])
  .option(
    '--packages-dir <dir>',
    'agent .deb files that /install.sh serves to fresh hosts (a source checkout: dist/ after `npm run package`)',
    process.env.BALLAST_PACKAGES_DIR ?? defaultPackagesDir(),
  )
  .addOption(new Option('--log-level <level>', 'log level').default(process.env.BALLAST_LOG_LEVEL ?? CONTROLLER_DEFAULTS.logLevel))
  .showHelpAfterError(false)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? s : `error: ${s}`) });

/** The packaged layout: /opt/ballast/controller/{lib/dist/controller/src/main.js, packages/}. */
function defaultPackagesDir(): string {
  return fileURLToPath(new URL('../../../../packages', import.meta.url));
}

async function main(): Promise<void> {
  try {
    program.parse();
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }
  const validated = validateControllerFlags(program.opts<ControllerFlags>());
  if (!validated.ok) {
    process.stderr.write(`error: invalid configuration:\n${validated.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  const { logLevel, ...settings } = validated.settings;
  const log = createLogger({ name: 'ballast-controller', level: logLevel });
  // systemd (Type=notify) brackets the controller: READY once it listens and every part runs,
  // WATCHDOG from the event loop, STOPPING first on shutdown.
  const notifier = createNotifier(process.env, { onError: (err) => log.warn({ err: err.message }, 'sd_notify failed') });
  let services: ServiceManager;
  try {
    const controller = await createController({ ...settings, log });
    const sd = systemdNotifyServices(notifier, { readyStatus: () => `serving ${controller.url()}` });
    services = new ServiceManager([sd.flush, controller.services, sd.watchdog], { name: 'ballast-controller', log });
    await services.start();
  } catch (err) {
    log.fatal({ err }, 'failed to start controller');
    process.stderr.write(`error: failed to start controller: ${messageOf(err)}\n`);
    // A configuration problem found at start (an --artifact-trust-key file) exits like a bad flag.
    process.exit(isBallastError(err) && err.code === 'BALLAST_ERR_CONFIG' ? 2 : 1);
  }
  exitOnSignals({ log, forceAfterMs: 10_000, stop: () => services.stop(), exit: (code) => process.exit(code) });
}

void main();
