/**
 * `ballastctl node …` against the real controller binary with a real enrolled agent: the routes
 * are wired, auth and refusals reach the operator as one line, and `fencing.yaml` is read at start
 * (a bad one stops the controller with the path of the problem). The replace itself needs real
 * Kubernetes and runs in the lab; its logic is proven in controller/src/membership/*.test.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestController, createToken, joinAgent, requireBuild, runAgent, startProc, stopAll, tempDir, waitFor } from './harness.js';

describe('node commands against the controller process', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;

  beforeAll(async () => {
    requireBuild();
    dir = await tempDir('nodes');
    const data = join(dir.path, 'controller');
    await mkdir(data, { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'fencing.yaml'), `hosts:\n  spare:\n    kind: command\n    argv: [/bin/true]\n`);
    ctl = new TestController(data);
    await ctl.start();
    const token = await createToken(ctl);
    const r = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name: 'spare', dataDir: join(dir.path, 'spare') });
    expect(r.code, r.stderr).toBe(0);
    runAgent(join(dir.path, 'spare'));
    await waitFor('spare connected', async () => ((await ctl.ctlJson<{ items: { name: string; connected: boolean }[] }>(['hosts'])).items.find((h) => h.name === 'spare')?.connected ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    await dir?.cleanup();
  });

  it('refuses what cannot start, one line each, exit 1; usage errors exit 2', async () => {
    const replace = await ctl.ctl(['node', 'replace', 'cp-1', '--with', 'spare', '--yes']);
    expect([replace.code, replace.stderr.trim()]).toEqual([1, 'error: BALLAST_ERR_NOT_FOUND: host "cp-1" is in no cluster (ballastctl cluster list); nothing was started']);
    const add = await ctl.ctl(['node', 'add', 'spare', '--cluster', 'prod', '--roles', 'worker', '--check']);
    expect([add.code, add.stderr.trim()]).toEqual([1, 'error: BALLAST_ERR_NOT_FOUND: cluster "prod" does not exist (ballastctl cluster list); nothing was started']);
    const noYes = await ctl.ctl(['node', 'remove', 'spare']);
    expect(noYes.code).toBe(2);
    const lock = await ctl.ctl(['node', 'lock', 'prod']);
    expect([lock.code, lock.stdout]).toEqual([0, 'cluster prod: no membership change in progress\n']);
    const audit = await ctl.ctlJson<{ items: { action: string; outcome: string }[] }>(['audit']);
    expect(audit.items.map((a) => `${a.action}:${a.outcome}`)).toContain('node.replace:failed');
  });

  it('a controller whose fencing.yaml is invalid does not start, naming the file and the path', async () => {
    const data = join(dir.path, 'bad-controller');
    await mkdir(data, { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'fencing.yaml'), 'hosts:\n  cp-1:\n    kind: ipmi\n');
    const proc = startProc('ballast-controller', ['--data-dir', data, '--listen', '127.0.0.1:0']);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    expect(proc.output()).toMatch(/fencing\.yaml: \/hosts\/cp-1/);
  });
});
