import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

// The agent's own systemd unit, as `join` installs and starts it. Not a lifecycle Service
// (shared/src/lifecycle): this is what systemd runs, not a part the agent runs.

/** Unit file locations systemd reads, most specific first. */
const UNIT_PATHS = ['/etc/systemd/system/ballast-agent.service', '/lib/systemd/system/ballast-agent.service', '/usr/lib/systemd/system/ballast-agent.service'];

/** True when systemd is PID 1 here and the agent's unit is installed (the .deb case). */
export function agentUnitInstalled(): boolean {
  return existsSync('/run/systemd/system') && UNIT_PATHS.some((p) => existsSync(p));
}

/** `systemctl enable --now ballast-agent`, as an argv (never a shell string). */
export function enableAgentService(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('systemctl', ['enable', '--now', 'ballast-agent.service'], { timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`systemctl enable --now ballast-agent failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}
