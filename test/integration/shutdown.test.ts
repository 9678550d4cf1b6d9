import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Proc, TestController, createToken, hostsByName, joinAgent, requireBuild, runAgent, stopAll, tempDir, waitFor } from './harness.js';

/** The services a process logged as stopped (debug level, which the harness enables), in order. */
function stopped(proc: Proc): string[] {
  const names: string[] = [];
  for (const line of proc.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; service?: string };
    if (entry.msg === 'stopped service' && entry.service !== undefined) names.push(entry.service);
  }
  return names;
}

describe('graceful shutdown: SIGTERM stops every service in reverse start order and exits 0', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  let agent: Proc;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('shutdown');
    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
    const token = await createToken(ctl);
    const dataDir = join(dir.path, 'node-1');
    const joined = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name: 'node-1', dataDir });
    expect(joined.code, joined.stderr).toBe(0);
    agent = runAgent(dataDir);
    await waitFor('node-1 connected', async () => ((await hostsByName(ctl)).get('node-1')?.connected === true ? true : undefined));
  });

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it('the agent: the session (the event sink) stops after the VIP manager, the supervisor and the self-fence watch', async () => {
    agent.child.kill('SIGTERM');
    expect(await agent.exited, agent.output()).toBe(0);
    // The self-fence watch starts right after the session (it reads the session's contact), so it stops just before it.
    // Failed once in CI under load with session, artifacts, sd-notify stopped first (cause not found): the log says more.
    expect(stopped(agent), agent.output().slice(-6000)).toEqual(['sd-watchdog', 'supervisor', 'vip', 'self-fence', 'session', 'artifacts', 'sd-notify']);
  });

  it('the controller: not ready first, agent sessions before the server, the store last', async () => {
    const proc = ctl.proc;
    if (proc === null) throw new Error('controller not running');
    proc.child.kill('SIGTERM');
    expect(await proc.exited, proc.output()).toBe(0);
    expect(stopped(proc)).toEqual([
      'sd-watchdog',
      'operations-resume',
      'readiness',
      'housekeeping',
      'auto-replace',
      'snapshot-scheduler',
      'host-tracker',
      'monitoring',
      'vip',
      'runs',
      'operations',
      'hub',
      'admin-conf',
      'http',
      'heartbeat-batcher',
      'disconnect-notices',
      'connection-storm',
      'store',
      'controller',
      'sd-notify',
    ]);
  });
});
