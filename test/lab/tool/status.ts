import { hostRun } from './host.js';
import type { Lab } from './lab.js';
import { isAlive } from './proc.js';

/** A human summary (`scripts/lab status`): the lab's resources and the controller's view of its hosts. */
export async function labStatus(lab: Lab): Promise<string> {
  const s = lab.state;
  const lines = [
    `lab ${s.dir} (since ${s.createdAt})`,
    `controller ${lab.serverUrl} pid ${s.controller?.pid ?? '-'} ${isAlive(s.controller) ? 'running' : 'STOPPED'}; admin.conf ${lab.adminConf}`,
  ];
  for (const h of s.hosts) {
    let system = 'off';
    let agent = '-';
    if (isAlive(h.init)) {
      system = (await hostRun(h, ['systemctl', 'is-system-running'], { allowFail: true, timeoutMs: 5000 })).stdout.trim();
      agent = (await hostRun(h, ['systemctl', 'is-active', 'ballast-agent'], { allowFail: true, timeoutMs: 5000 })).stdout.trim();
    }
    lines.push(
      `${h.name.padEnd(8)} ${h.address.padEnd(13)} nspawn ${String(h.nspawn?.pid ?? '-').padEnd(8)} system ${system.padEnd(9)} agent ${agent.padEnd(9)}${h.partitioned ? ' PARTITIONED' : ''}`,
    );
  }
  if (isAlive(s.controller)) {
    const r = await lab.ctl(['hosts'], { allowFail: true });
    lines.push('', r.code === 0 ? r.stdout.trimEnd() : `ballastctl hosts failed: ${r.stderr.trim()}`);
  }
  return lines.join('\n');
}
