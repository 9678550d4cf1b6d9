import { describe, expect, it } from 'vitest';
import { parseClusterYaml } from './spec.js';
import { CLUSTER_YAML } from './testing.js';

const withAuto = (body: string) => parseClusterYaml(`${CLUSTER_YAML.trimEnd()}\nautoReplace:\n${body}`);

describe('cluster.yaml autoReplace: spares or sparePool, exactly one', () => {
  it('accepts a list of spares, or a label pool, with the defaults applied', () => {
    const list = withAuto('  spares: [cp-9]\n');
    expect(list.ok && list.spec.autoReplace).toEqual({ after: '5m', spares: ['cp-9'], maxConcurrent: 1, minHealthyPeriod: '1h', maxUnhealthy: '40%' });
    const pool = withAuto('  after: 2m\n  sparePool: ballast.dev/pool=spare\n');
    expect(pool.ok && pool.spec.autoReplace).toEqual({ after: '2m', sparePool: 'ballast.dev/pool=spare', maxConcurrent: 1, minHealthyPeriod: '1h', maxUnhealthy: '40%' });
  });

  it('refuses both, and neither, at /autoReplace with what to write instead', () => {
    expect(withAuto('  spares: [cp-9]\n  sparePool: pool=spare\n')).toEqual({
      ok: false,
      problems: [{ path: '/autoReplace', message: 'gives both spares and sparePool: list the spare hosts (spares: [host, …]) or name a label pool (sparePool: key=value), not both' }],
    });
    expect(withAuto('  after: 5m\n')).toEqual({
      ok: false,
      problems: [{ path: '/autoReplace', message: 'needs spares: [host, …] (listed spare hosts) or sparePool: key=value (hosts labelled with ballastctl host label)' }],
    });
  });

  it('refuses a pool that is not one key=value of label syntax', () => {
    expect(withAuto('  sparePool: spare\n')).toMatchObject({ ok: false, problems: [{ path: '/autoReplace/sparePool', message: 'must be a label selector key=value such as pool=spare' }] });
    expect(withAuto('  sparePool: pool=-spare\n')).toMatchObject({ ok: false, problems: [{ path: '/autoReplace/sparePool', message: 'must be a label selector key=value such as pool=spare (Kubernetes label syntax)' }] });
    expect(withAuto(`  sparePool: ${'a'.repeat(64)}=x\n`)).toMatchObject({ ok: false, problems: [{ path: '/autoReplace/sparePool' }] });
  });
});
