/**
 * A component registration written by a role (componentTask: JSON, no managed-by header) must be
 * removable by the roles that unregister it — run through the agent's real `file` module on a
 * temporary root, not compared as data. On real Kubernetes every `cluster recover` failed at
 * `etcd/stop` with BALLAST_ERR_FILE_UNMANAGED: its unregister task lacked `force`, and the
 * modelled hosts of the recovery tests never ran the module.
 */
import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { makeTempRoot, testContext } from '../../agent/src/tasks/testing.js';
import { mustRender, TEST_TLS } from '../../controller/src/roles/testing.js';
import type { RoleTask } from '../../controller/src/roles/types.js';
import { componentFilePath } from '../../shared/src/components.js';
import { VIP_EXCLUDED_PATH, writeExcluded } from '../../agent/src/vip/exclusion.js';

const registry = createModuleRegistry();
const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
});

async function apply(root: string, t: RoleTask): Promise<void> {
  await registry.run(t.module, t.args, testContext(root));
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('component registration: written by the etcd role, removed by the roles that stop etcd', () => {
  for (const [role, vars] of [
    ['etcd-stop', {}],
    ['etcd-wipe', {}],
    ['reset', {}],
  ] as const) {
    it(`${role} removes /etc/ballast/components.d/etcd.json that the etcd role wrote`, async () => {
      const root = await makeTempRoot();
      roots.push(root);
      const register = mustRender('etcd', { tls: TEST_TLS }).tasks.find((t) => t.name === 'Register component etcd');
      if (register === undefined) throw new Error('the etcd role registers no component');
      await apply(root, register);
      const file = join(root, componentFilePath('etcd'));
      expect(await exists(file)).toBe(true);
      const unregister = mustRender(role, vars).tasks.find((t) => t.module === 'file' && (t.args as { path?: string }).path === componentFilePath('etcd'));
      if (unregister === undefined) throw new Error(`${role} does not unregister etcd`);
      await apply(root, unregister);
      expect(await exists(file)).toBe(false);
    });
  }
});

describe('reset removes the VIP exclusion marker', () => {
  it('a marker left by a replacement interrupted in old/reset is removed by the reset role (real file module)', async () => {
    const root = await makeTempRoot();
    roots.push(root);
    const marker = join(root, VIP_EXCLUDED_PATH);
    await mkdir(dirname(marker), { recursive: true });
    await writeExcluded(marker, { host: 'old', at: Date.now(), reason: 'replace: release the VIP' });
    const tasks = mustRender('reset', {}).tasks.filter((t) => t.module === 'file' && (t.args as { path?: string }).path === VIP_EXCLUDED_PATH);
    expect(tasks).toHaveLength(1);
    for (const t of tasks) await apply(root, t);
    expect(await exists(marker)).toBe(false);
    // Converges: a second run is fine.
    for (const t of tasks) await apply(root, t);
  });
});
