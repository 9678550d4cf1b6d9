/**
 * `etcd-member`: one etcd membership change (add as learner, promote, remove), run by the agent of
 * a host that is already a member, through its local client URL with its own etcd client
 * certificate (the files the etcd role wrote). The agent's quorum guard refuses any change that
 * could cost the cluster its quorum. Used by the bootstrap operation one member at a time.
 */
import { Type } from '@sinclair/typebox';
import { ETCD_PATH_RULES } from './etcd.js';
import { checkPathVar } from './safe-vars.js';
import { task } from './tasks.js';
import type { RoleDefinition } from './types.js';

const Url = Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 });
const Path = (def: string) => Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: def });

const EtcdMemberVars = Type.Object(
  {
    action: Type.Union([Type.Literal('add'), Type.Literal('promote'), Type.Literal('remove')]),
    /** The member the change is about (not the host running it). */
    member: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }),
    peerUrls: Type.Array(Url, { minItems: 1, maxItems: 4 }),
    /** Client URLs to reach the cluster through, the local member first; the agent's default when absent. */
    endpoints: Type.Optional(Type.Array(Url, { minItems: 1, maxItems: 8 })),
    configDir: Path('/etc/etcd'),
    timeoutMs: Type.Integer({ minimum: 1000, maximum: 600_000, default: 120_000 }),
  },
  { additionalProperties: false },
);

const TITLES = { add: 'Add {m} to etcd as a learner', promote: 'Promote {m} to an etcd voter', remove: 'Remove {m} from etcd' } as const;

/** The etcd-member role. */
export const etcdMemberRole: RoleDefinition<typeof EtcdMemberVars> = {
  name: 'etcd-member',
  description: 'one etcd membership change (learner add, promote, remove) through the local member, quorum-guarded',
  vars: EtcdMemberVars,
  render({ vars, problem }) {
    checkPathVar(problem, '/vars/configDir', vars.configDir, ETCD_PATH_RULES.configDir);
    const pki = `${vars.configDir}/pki`;
    return {
      tasks: [
        task(TITLES[vars.action].replace('{m}', vars.member), 'etcd_member', {
          action: vars.action,
          name: vars.member,
          peerUrls: vars.peerUrls,
          ...(vars.endpoints === undefined ? {} : { endpoints: vars.endpoints }),
          caFile: `${pki}/ca.crt`,
          certFile: `${pki}/healthcheck-client.crt`,
          keyFile: `${pki}/healthcheck-client.key`,
          timeoutMs: vars.timeoutMs,
        }),
      ],
      handlers: [],
    };
  },
};
