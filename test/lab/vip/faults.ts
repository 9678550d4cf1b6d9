/**
 * Fault injection for the VIP scenarios: each function does one thing to one host and returns.
 * Waiting for the consequences is the scenario's job (scenarios.ts).
 */
import { rmSync } from 'node:fs';
import { run, sleep } from '../tool/exec.js';
import { isAlive, signal } from '../tool/proc.js';
import { writeState } from '../tool/state.js';
import { VIP, type VipLab } from './setup.js';

/**
 * A power cut, not a shutdown: the NIC leaves the network (switch port down), every process of the
 * host dies at once (SIGKILL of the container's PID 1 ends its pid namespace; no ExecStopPost, no
 * graceful release), and the addresses go with the machine. `lab.poweroff` is a clean
 * `systemctl poweroff`, which would test the graceful path instead.
 */
export async function powerCut(vl: VipLab, name: string): Promise<void> {
  const host = vl.lab.host(name);
  await vl.lab.partition(name);
  if (host.init && isAlive(host.init)) signal(host.init, 'SIGKILL');
  for (let i = 0; i < 300 && isAlive(host.nspawn); i++) await sleep(50);
  if (isAlive(host.nspawn)) throw new Error(`failed to cut the power of ${name}: systemd-nspawn ${host.nspawn?.pid} still runs after 15 s`);
  host.nspawn = null;
  host.init = null;
  rmSync(`/run/systemd/nspawn/propagate/${name}`, { recursive: true, force: true });
  writeState(vl.lab.state);
  // The namespace outlives the "machine"; a dead machine holds no address.
  await run(['ip', '-n', host.netns, 'addr', 'del', `${VIP}/32`, 'dev', 'eth0'], { allowFail: true });
}

/** Powers a cut host on again: port up, boot (its units start as enabled: etcd, the keeper). */
export async function powerOn(vl: VipLab, name: string): Promise<void> {
  await vl.lab.heal(name);
  await vl.lab.poweron(name);
}

/** kill -<sig> of a unit's main process inside a host; returns the PID (0: it was not running). */
export async function killUnit(vl: VipLab, host: string, unit: string, sig: 'KILL' | 'STOP' | 'CONT'): Promise<number> {
  const pid = await vl.mainPid(host, unit);
  if (pid > 0) await vl.lab.exec(host, ['kill', `-${sig}`, String(pid)], { allowFail: sig === 'CONT' });
  return pid;
}
