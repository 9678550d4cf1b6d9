/**
 * `etcd-wipe`: stops etcd on a host and removes its data directory. The rollback of a failed member
 * join (after the member was removed from the cluster): a data directory left from a failed start
 * holds a member id the cluster no longer knows, and etcd would refuse to start with it next time.
 * Also the etcd part of `cluster reset`.
 */
import { Type } from '@sinclair/typebox';
import { ETCD_PATH_RULES } from './etcd.js';
import { checkPathVar } from './safe-vars.js';
import { task, unregisterComponentTask } from './tasks.js';
import type { RoleDefinition } from './types.js';

const EtcdWipeVars = Type.Object(
  { dataDir: Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*/[A-Za-z0-9._@+-]+$', maxLength: 512, default: '/var/lib/etcd' }) },
  { additionalProperties: false },
);

/** The etcd-wipe role. */
export const etcdWipeRole: RoleDefinition<typeof EtcdWipeVars> = {
  name: 'etcd-wipe',
  description: 'stop etcd and remove its data directory (rollback of a failed member join)',
  vars: EtcdWipeVars,
  render({ host, vars, problem }) {
    // `/./.` passed the old pattern and planned removing the root: canonical and under /var/lib/etcd only.
    checkPathVar(problem, '/vars/dataDir', vars.dataDir, ETCD_PATH_RULES.dataDir);
    return {
      tasks: [
        // The component supervisor would start it again: unregister first, then stop and disable.
        unregisterComponentTask('etcd'),
        task('Stop and disable etcd.service', 'systemd', { unit: 'etcd.service', state: 'stopped', enabled: false }),
        task(`Remove ${vars.dataDir}`, 'directory', { path: vars.dataDir, state: 'absent' }),
        // Removed on purpose: the etcd_data guard may prepare a new member here again.
        task('Forget the etcd member marker', 'etcd_data', { action: 'forget', member: host.name, dataDir: vars.dataDir }),
      ],
      handlers: [],
    };
  },
};
