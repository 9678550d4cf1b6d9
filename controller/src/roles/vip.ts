/**
 * `vip`: the agent's VIP manager configuration (/etc/ballast/vip.yaml, read by
 * agent/src/vip/config.ts) and the etcd client certificate the election uses. The agent watches the
 * file: writing it starts campaigning, `candidate: false` hands the VIP on (maintenance), and
 * health/candidate changes apply without moving the VIP. Nothing here needs the controller at run
 * time: the election runs between the agents and etcd.
 */
import { Type } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { checkPathVar } from './safe-vars.js';
import { task } from './tasks.js';
import type { RoleDefinition } from './types.js';
import { secret } from './vars.js';

const Pem = Type.String({ pattern: '^-----BEGIN [A-Z0-9 ]+-----\\r?\\n[\\s\\S]+-----END [A-Z0-9 ]+-----\\s*$', maxLength: 64 * 1024 });
const Timing = {
  intervalMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 60_000 })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 30_000 })),
  rise: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  fall: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};

/** Where the role puts the election's etcd client material. */
export const VIP_PKI_DIR = '/etc/ballast/vip';

const VipVars = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
    address: Type.String({ pattern: '^[0-9.]{7,15}$' }),
    prefixLength: Type.Integer({ minimum: 1, maximum: 32, default: 32 }),
    interface: Type.String({ pattern: '^[A-Za-z0-9_.@:-]{1,15}$' }),
    /** The host's own etcd member (one URL: see agent/src/vip/README.md). */
    etcdEndpoint: Type.String({ pattern: '^https://[^\\s,]+$', maxLength: 300 }),
    tls: Type.Object({ caCert: Pem, clientCert: Pem, clientKey: secret(Pem) }, { additionalProperties: false }),
    /**
     * The local check that decides whether this host may hold the VIP. `none` holds it without a
     * check: the bootstrap uses it on the first control plane before any API server exists.
     */
    health: Type.Optional(
      Type.Union([
        Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false }),
        Type.Object(
          {
            kind: Type.Union([Type.Literal('http'), Type.Literal('https')]),
            url: Type.String({ pattern: '^https?://', maxLength: 2048 }),
            caFile: Type.Optional(Type.String({ pattern: '^/', maxLength: 512 })),
            certFile: Type.Optional(Type.String({ pattern: '^/', maxLength: 512 })),
            keyFile: Type.Optional(Type.String({ pattern: '^/', maxLength: 512 })),
            ...Timing,
          },
          { additionalProperties: false },
        ),
        Type.Object({ kind: Type.Literal('tcp'), host: Type.String({ minLength: 1, maxLength: 253 }), port: Type.Integer({ minimum: 1, maximum: 65535 }), ...Timing }, { additionalProperties: false }),
      ]),
    ),
    candidate: Type.Boolean({ default: true }),
    holdTimeoutMs: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 60_000 })),
    addressLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 })),
    pollIntervalMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 5_000 })),
  },
  { additionalProperties: false },
);

/** The vip role. */
export const vipRole: RoleDefinition<typeof VipVars> = {
  name: 'vip',
  description: 'VIP election config (/etc/ballast/vip.yaml) and its etcd client certificate',
  vars: VipVars,
  render({ vars, problem }) {
    const health = vars.health;
    if (health !== undefined && (health.kind === 'http' || health.kind === 'https')) {
      for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
        const value = health[key];
        if (value !== undefined) checkPathVar(problem, `/vars/health/${key}`, value, null);
      }
    }
    const file = (name: string) => `${VIP_PKI_DIR}/${name}`;
    const config: Record<string, unknown> = {
      name: vars.name,
      address: vars.address,
      prefixLength: vars.prefixLength,
      interface: vars.interface,
      etcd: { endpoints: [vars.etcdEndpoint], caFile: file('etcd-ca.crt'), certFile: file('etcd-client.crt'), keyFile: file('etcd-client.key') },
      candidate: vars.candidate,
      ...(vars.health === undefined ? {} : { health: vars.health }),
      ...(vars.holdTimeoutMs === undefined ? {} : { holdTimeoutMs: vars.holdTimeoutMs }),
      ...(vars.addressLifetimeSeconds === undefined ? {} : { addressLifetimeSeconds: vars.addressLifetimeSeconds }),
      ...(vars.pollIntervalMs === undefined ? {} : { pollIntervalMs: vars.pollIntervalMs }),
    };
    return {
      tasks: [
        task(`Create directory ${VIP_PKI_DIR}`, 'directory', { path: VIP_PKI_DIR, mode: '0700', owner: 'root', group: 'root' }),
        task(`Write ${file('etcd-ca.crt')}`, 'file', { path: file('etcd-ca.crt'), content: vars.tls.caCert, mode: '0644' }),
        task(`Write ${file('etcd-client.crt')}`, 'file', { path: file('etcd-client.crt'), content: vars.tls.clientCert, mode: '0644' }),
        task(`Write ${file('etcd-client.key')}`, 'file', { path: file('etcd-client.key'), content: vars.tls.clientKey, mode: '0600' }, { sensitive: true }),
        // Last: the manager starts campaigning once the file exists, and the certificates must be there by then.
        task('Write /etc/ballast/vip.yaml', 'file', { path: '/etc/ballast/vip.yaml', content: stringify(config), mode: '0644' }),
      ],
      handlers: [],
    };
  },
};
