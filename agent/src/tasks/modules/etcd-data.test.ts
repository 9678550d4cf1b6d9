/**
 * `etcd_data` on a real temporary root: a new host gets a member directory and the marker; a host
 * whose data directory was lost is refused with the coded error naming it and the way out; a
 * deliberate removal (`forget`) lets a new member be prepared again; `require` tells a member with
 * data from one without. A real etcd writing its data is in test/integration/etcd-data-guard.test.ts.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { BallastError } from '../../../../shared/src/errors.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, testContext } from '../testing.js';
import { createEtcdDataModule } from './etcd-data.js';

const registry = createModuleRegistry([createEtcdDataModule({ now: () => new Date('2026-12-07T00:00:00Z') })]);
let root = '';
const run = (action: string, check = false, extra: Record<string, unknown> = {}) => registry.run('etcd_data', { action, member: 'host1', ...extra }, testContext(root, { check }));
const exists = (p: string) => stat(join(root, p)).then(() => true, () => false);

beforeEach(async () => {
  root = await makeTempRoot();
});

describe('etcd_data', () => {
  it('prepare on a new host: member dir 0700 and the marker; again: nothing changes', async () => {
    expect((await run('prepare', true)).changed).toBe(true);
    expect(await exists('var/lib/etcd/member')).toBe(false);
    expect(await run('prepare')).toMatchObject({ changed: true, message: expect.stringContaining('created /var/lib/etcd/member') });
    expect((await stat(join(root, 'var/lib/etcd/member'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(join(root, 'var/lib/etcd.ballast-member.json'), 'utf8'))).toEqual({ member: 'host1', dataDir: '/var/lib/etcd', since: '2026-12-07T00:00:00.000Z' });
    expect((await run('prepare')).changed).toBe(false);
  });

  it('prepare after the data dir was lost: refused (check mode too), nothing created, the message names the host and cluster recover', async () => {
    await run('prepare');
    await rm(join(root, 'var/lib/etcd'), { recursive: true });
    for (const check of [true, false]) {
      const err = await rejection(run('prepare', check));
      expect(err).toBeInstanceOf(BallastError);
      expect((err as BallastError).code).toBe('BALLAST_ERR_ETCD_DATA_LOST');
      expect((err as BallastError).message).toMatch(/^failed to prepare etcd on host1: \/var\/lib\/etcd\/member is gone, but this host ran etcd member host1/);
      expect((err as BallastError).message).toContain('ballastctl cluster recover');
      expect((err as BallastError).message).toContain('ballastctl node replace host1');
    }
    expect(await exists('var/lib/etcd')).toBe(false);
  });

  it('forget after a deliberate removal: a new member may be prepared again', async () => {
    await run('prepare');
    await rm(join(root, 'var/lib/etcd'), { recursive: true });
    expect((await run('forget', true)).changed).toBe(true);
    expect(await exists('var/lib/etcd.ballast-member.json')).toBe(true);
    expect((await run('forget')).changed).toBe(true);
    expect((await run('forget')).changed).toBe(false);
    expect((await run('prepare')).changed).toBe(true);
  });

  it('a member from before the marker (data, no marker) adopts it; a later loss is then caught', async () => {
    await mkdir(join(root, 'var/lib/etcd/member/wal'), { recursive: true });
    expect(await run('prepare')).toMatchObject({ changed: true, message: expect.stringContaining('present; recorded') });
    await rm(join(root, 'var/lib/etcd/member'), { recursive: true });
    expect(((await rejection(run('prepare'))) as BallastError).code).toBe('BALLAST_ERR_ETCD_DATA_LOST');
  });

  it('require: refused for a missing or an empty member dir, passes with a WAL segment or a db', async () => {
    expect(((await rejection(run('require'))) as BallastError).code).toBe('BALLAST_ERR_ETCD_DATA_LOST');
    await run('prepare');
    const empty = (await rejection(run('require'))) as BallastError;
    expect(empty.message).toMatch(/^failed to keep the etcd data of host1: \/var\/lib\/etcd\/member holds no etcd data/);
    await mkdir(join(root, 'var/lib/etcd/member/wal'), { recursive: true });
    await writeFile(join(root, 'var/lib/etcd/member/wal/0000000000000000-0000000000000000.wal'), 'x');
    expect((await run('require')).changed).toBe(false);
  });

  it('paths outside /var/lib/etcd and non-canonical ones are refused', async () => {
    for (const dataDir of ['/etc', '/var/lib/etcd/../../etc', '/var/lib/etcd/./x', '/var/lib/etcdx']) {
      const err = (await rejection(run('prepare', false, { dataDir }))) as BallastError;
      expect(['BALLAST_ERR_UNSAFE_PATH', 'BALLAST_ERR_PATH_OUTSIDE_ROOT'], dataDir).toContain(err.code);
    }
  });
});
