/**
 * sushy-tools' Redfish emulator (OpenStack's, from PyPI) as a BMC that is not ours: its fake driver
 * keeps each system's power state in memory (and in a state dir we give it) and applies a reset
 * 1–11 s later, as real hardware does. Started on a loopback port per test file, with Basic auth
 * (an Apache bcrypt user file), TLS from a CA of ours, or `SUSHY_EMULATOR_DISABLE_POWER_OFF` (its
 * own switch that refuses ForceOff: a BMC whose reset never takes); ended by PID.
 *
 * Found at `$BALLAST_SUSHY_EMULATOR`, on PATH, or where scripts/install-lab-deps.sh installs it
 * (/opt/ballast-test/sushy-tools); '' when missing, and the tests skip saying so.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, waitFor } from './harness.js';

/** The emulator's entry point, or ''. */
export const SUSHY_EMULATOR = ((): string => {
  const env = process.env.BALLAST_SUSHY_EMULATOR;
  if (env !== undefined && env !== '') return existsSync(env) ? env : '';
  const onPath = spawnSync('sh', ['-c', 'command -v sushy-emulator'], { encoding: 'utf8' }).stdout.trim();
  if (onPath !== '') return onPath;
  const venv = '/opt/ballast-test/sushy-tools/bin/sushy-emulator';
  return existsSync(venv) ? venv : '';
})();

/** One system of the fake driver. */
export interface FakeSystem {
  uuid: string;
  name: string;
  power_state: 'On' | 'Off';
  /** PUT the system (JSON) to the config's EXTERNAL_NOTIFICATION_URL at every change, before answering. */
  external_notifier?: boolean;
}

/** A running emulator. */
export interface Sushy {
  /** `http(s)://127.0.0.1:<port>` */
  origin: string;
  port: number;
  child: ChildProcess;
  /** The emulator's own log (stdout and stderr), for a failing test's message. */
  log(): string;
  /** Ends it by PID (continuing it first if a test stopped it) and waits for the exit. */
  stop(): Promise<void>;
}

/** Options of {@link startSushy}. */
export interface SushyOptions {
  /** A private directory: config, state, auth file. */
  dir: string;
  systems: FakeSystem[];
  /** Basic auth: this user and password, bcrypt-hashed into the emulator's user file. */
  auth?: { username: string; password: string };
  /** HTTPS with this certificate and key (PEM). */
  tls?: { certPem: string; keyPem: string };
  /** Refuse ForceOff and GracefulShutdown (sushy-tools' SUSHY_EMULATOR_DISABLE_POWER_OFF). */
  disablePowerOff?: boolean;
  /** The fake driver's change notifications go here (systems with `external_notifier`). */
  notificationUrl?: string;
}

/** Writes the emulator's config file into `o.dir` for a listener on 127.0.0.1:`port`; returns its path. */
export async function writeSushyConfig(o: SushyOptions, port: number): Promise<string> {
  const lines = [
    'import json',
    'SUSHY_EMULATOR_FAKE_DRIVER = True',
    `SUSHY_EMULATOR_FAKE_SYSTEMS = json.loads(${JSON.stringify(JSON.stringify(o.systems.map((s) => ({ ...s, nics: [] }))))})`,
    `SUSHY_EMULATOR_STATE_DIR = ${JSON.stringify(join(o.dir, 'state'))}`,
    "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'",
    `SUSHY_EMULATOR_LISTEN_PORT = ${port}`,
  ];
  if (o.disablePowerOff === true) lines.push('SUSHY_EMULATOR_DISABLE_POWER_OFF = True');
  if (o.notificationUrl !== undefined) lines.push(`EXTERNAL_NOTIFICATION_URL = ${JSON.stringify(o.notificationUrl)}`);
  if (o.auth !== undefined) {
    const users = join(o.dir, 'htpasswd');
    await writeFile(users, `${o.auth.username}:${bcrypt(o.auth.password)}\n`, { mode: 0o600 });
    lines.push(`SUSHY_EMULATOR_AUTH_FILE = ${JSON.stringify(users)}`);
  }
  if (o.tls !== undefined) {
    await writeFile(join(o.dir, 'bmc.crt'), o.tls.certPem);
    await writeFile(join(o.dir, 'bmc.key'), o.tls.keyPem, { mode: 0o600 });
    lines.push(`SUSHY_EMULATOR_SSL_CERT = ${JSON.stringify(join(o.dir, 'bmc.crt'))}`, `SUSHY_EMULATOR_SSL_KEY = ${JSON.stringify(join(o.dir, 'bmc.key'))}`);
  }
  const config = join(o.dir, 'emulator.conf');
  await writeFile(config, `${lines.join('\n')}\n`);
  return config;
}

/** Starts the emulator and waits until its port accepts connections. */
export async function startSushy(o: SushyOptions): Promise<Sushy> {
  const port = await freePort();
  const config = await writeSushyConfig(o, port);
  const child = spawn(SUSHY_EMULATOR, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(
    `sushy-emulator on 127.0.0.1:${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`sushy-emulator exited ${child.exitCode}: ${out}`);
      return (await accepts(port)) ? true : undefined;
    },
    30_000,
    100,
  );
  return {
    origin: `${o.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    child,
    log: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
      }
      await exited;
    },
  };
}

/** An Apache-style bcrypt hash, made by the emulator's own Python (its bcrypt is what checks it). */
function bcrypt(password: string): string {
  const python = readFileSync(SUSHY_EMULATOR, 'utf8').split('\n')[0]?.replace(/^#!/, '').trim() ?? 'python3';
  const r = spawnSync(python, ['-c', 'import bcrypt, sys; print(bcrypt.hashpw(sys.stdin.read().encode(), bcrypt.gensalt(4)).decode())'], { input: password, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bcrypt with ${python} failed: ${r.stderr}`);
  return r.stdout.trim();
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
