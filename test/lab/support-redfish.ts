/**
 * A Redfish BMC for lab hosts that is not ours, wired to the lab's power switch (issue 12,
 * "Fencing": test `redfish` against a Redfish server that is not ours wired to the lab's power
 * switch). sushy-tools' emulator (fake driver, one ComputerSystem per lab host, named like it) runs
 * in the controller's network namespace on its loopback, with Basic auth. Its fake driver PUTs a
 * system to EXTERNAL_NOTIFICATION_URL on every change, synchronously, before it answers the request
 * that made the change: when a ForceOff comes due, the GET that reads `PowerState: Off` first
 * notifies (a reset still pending is notified too, with the state before it: the bridge ignores
 * those). The notification goes to a small bridge (below) that runs the lab's power switch
 * (support-replace.ts's writeLabFenceScript: SIGKILL of the host's PID 1, waits until its container is gone) and
 * answers only then. So the controller reads `Off` only after the host is off — as with a BMC.
 *
 * The one difference from a BMC: sushy-tools records `Off` even when the notification fails (it
 * only logs the error), so the bridge's log is the proof the switch acted; the test reads it.
 * Both processes are ended by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUSHY_EMULATOR, writeSushyConfig } from '../integration/sushy-support.js';
import { run, waitUntil } from './tool/exec.js';
import type { Lab } from './tool/lab.js';

/** Fixed loopback ports inside the controller's own network namespace (nothing else listens there). */
const BMC_PORT = 18443;
const BRIDGE_PORT = 18444;

/** One line of the bridge's log. */
export interface BridgeCall {
  at: string;
  host: string;
  code: number | null;
  ms: number;
  out: string;
}

/** The running BMC and bridge. */
export interface LabBmc {
  /** The fencing.yaml entry for `host`'s ComputerSystem. */
  agentFor(host: string): { kind: 'redfish'; system: string; username: string; passwordFile: string };
  /** What the bridge did, in order. */
  calls(): BridgeCall[];
  /**
   * Fences a host that is ON through the BMC with the controller's own Redfish client
   * (`redfishForceOff` from dist, run in the controller's network namespace, as the fence step runs
   * it): the BMC's system is first reset to On (its notification is ignored by the bridge), then
   * ForceOff must reach the lab's power switch and kill the live host. Resolves with the client's
   * message and how long the client took (ForceOff until it read Off).
   */
  fenceLive(host: string, beforeForceOff?: () => void): Promise<{ message: string; ms: number }>;
  stop(): Promise<void>;
}

const BRIDGE = `import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
const [port, fenceScript, logFile] = process.argv.slice(2);
createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => { body += d; if (body.length > 65536) req.destroy(); });
  req.on('end', () => {
    let sys;
    try { sys = JSON.parse(body); } catch { res.writeHead(400).end('not JSON'); return; }
    // Only a change that has taken effect: a reset that is still pending (pending_power set) is
    // notified with the state before it — Off while a power-on is pending, which is no power-off.
    if (sys.power_state !== 'Off' || sys.pending_power || typeof sys.name !== 'string') { res.writeHead(204).end(); return; }
    const t0 = Date.now();
    const child = spawn(process.execPath, [fenceScript], { env: { ...process.env, BALLAST_FENCE_HOST: sys.name }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', (code) => {
      appendFileSync(logFile, JSON.stringify({ at: new Date().toISOString(), host: sys.name, code, ms: Date.now() - t0, out: out.trim().slice(0, 2000) }) + '\\n');
      res.writeHead(code === 0 ? 200 : 500).end(out);
    });
  });
}).listen(Number(port), '127.0.0.1');
`;

/**
 * Starts the BMC for `hosts` (all powered on) and its bridge to the lab's power switch, whose
 * script `fenceScript` (writeLabFenceScript's) must exist. Skips nothing: throws if sushy-tools is missing.
 */
export async function startLabBmc(lab: Lab, work: string, hosts: readonly string[], fenceScript: string): Promise<LabBmc> {
  if (SUSHY_EMULATOR === '') throw new Error("sushy-tools' emulator is not installed (scripts/install-lab-deps.sh installs it)");
  const dir = join(work, 'bmc');
  mkdirSync(dir, { recursive: true });
  const bridgeScript = join(dir, 'power-bridge.mjs');
  const bridgeLog = join(dir, 'bridge.log');
  writeFileSync(bridgeScript, BRIDGE);
  writeFileSync(bridgeLog, '');
  const password = `lab-${process.pid}-${Date.now()}`;
  const passwordFile = join(dir, 'bmc-password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const uuid = (h: string) => `5eb1a500-0000-4000-8000-${Buffer.from(h).toString('hex').padStart(12, '0').slice(-12)}`;
  const config = await writeSushyConfig(
    {
      dir,
      systems: hosts.map((h) => ({ uuid: uuid(h), name: h, power_state: 'On', external_notifier: true })),
      auth: { username: 'fence', password },
      notificationUrl: `http://127.0.0.1:${BRIDGE_PORT}/`,
    },
    BMC_PORT,
  );
  const ns = lab.state.controllerNetns;
  const logFd = openSync(join(dir, 'processes.log'), 'a');
  const start = (argv: string[]): ChildProcess => spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', logFd, logFd] });
  const children = [start([process.execPath, bridgeScript, String(BRIDGE_PORT), fenceScript, bridgeLog]), start([SUSHY_EMULATOR, '--config', config])];
  const stop = async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) c.kill('SIGKILL');
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
  };
  try {
    await waitUntil(
      `the lab BMC (sushy-tools) on 127.0.0.1:${BMC_PORT} in ${ns}`,
      async () => {
        for (const c of children) if (c.exitCode !== null) throw new Error(`a lab BMC process exited ${c.exitCode}; see ${join(dir, 'processes.log')}`);
        const r = await run(['ip', 'netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-u', `fence:${password}`, `http://127.0.0.1:${BMC_PORT}/redfish/v1/Systems/${uuid(hosts[0]!)}`], { allowFail: true, timeoutMs: 5000 });
        return r.stdout.trim() === '200' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const system = (host: string) => `http://127.0.0.1:${BMC_PORT}/redfish/v1/Systems/${uuid(host)}`;
  const inNs = (argv: string[], timeoutMs: number) => run(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs });
  const curl = (args: string[]) => inNs(['curl', '-sf', '-u', `fence:${password}`, ...args], 10_000);
  return {
    async fenceLive(host, beforeForceOff) {
      await curl(['-X', 'POST', '-H', 'content-type: application/json', '-d', '{"ResetType":"On"}', `${system(host)}/Actions/ComputerSystem.Reset`]);
      await waitUntil(`the lab BMC to report ${host} On`, async () => ((JSON.parse((await curl([system(host)])).stdout) as { PowerState?: string }).PowerState === 'On' ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 });
      beforeForceOff?.();
      const client = fileURLToPath(new URL('../../dist/controller/src/membership/redfish.js', import.meta.url));
      const script = `const { redfishForceOff } = await import(${JSON.stringify(client)}); const out = await redfishForceOff({ host: ${JSON.stringify(host)}, system: ${JSON.stringify(system(host))}, username: 'fence', password: ${JSON.stringify(password)}, signal: new AbortController().signal }); console.log(out.message);`;
      const t0 = Date.now();
      const message = (await inNs([process.execPath, '--input-type=module', '-e', script], 90_000)).stdout.trim();
      return { message, ms: Date.now() - t0 };
    },
    agentFor: (host) => ({ kind: 'redfish', system: system(host), username: 'fence', passwordFile }),
    calls: () =>
      readFileSync(bridgeLog, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as BridgeCall),
    stop,
  };
}
