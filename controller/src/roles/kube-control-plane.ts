/**
 * `kube-control-plane`: the controller's Kubernetes PKI written into /etc/kubernetes/pki, then one
 * `kubeadm init` (first control plane) or `kubeadm join --control-plane` (the others) with a config
 * from controller/src/kube/kubeadm-config.ts. kubelet, kubeadm and the unit come from `kube-node`,
 * which runs first.
 *
 * With the CAs (and sa.key, front-proxy CA, etcd CA and the apiserver's etcd client pair) on disk,
 * kubeadm signs its leaf certificates with the controller's CAs and never creates its own; joins
 * need no `--certificate-key` because nothing is downloaded. The agent's kubeadm module runs init
 * or join at most once (guarded on admin.conf / kubelet.conf), so re-applying the role only
 * converges the files.
 */
import { Type } from '@sinclair/typebox';
import { kubeadmConfigShape, PKI_DIR } from '../kube/kubeadm-config.js';
import { directoryTask, parentDir, task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';
import { secret } from './vars.js';

/**
 * Files kubeadm must find for the cluster to use the controller's CAs: without ca.key kubeadm
 * would run in "external CA" mode, and without the others it would generate fresh ones that no
 * other control plane shares.
 */
export const REQUIRED_CONTROL_PLANE_PKI = [
  'ca.crt',
  'ca.key',
  'sa.key',
  'sa.pub',
  'front-proxy-ca.crt',
  'front-proxy-ca.key',
  'etcd/ca.crt',
  'apiserver-etcd-client.crt',
  'apiserver-etcd-client.key',
] as const;

const Pem = Type.String({ pattern: '^-----BEGIN [A-Z0-9 ]+-----\\r?\\n[\\s\\S]+-----END [A-Z0-9 ]+-----\\s*$', maxLength: 64 * 1024 });
/** Binaries the agent's kubeadm module accepts (its schema's allow-list). */
export const KubeadmBinary = Type.Union([Type.Literal('/usr/bin/kubeadm'), Type.Literal('/usr/local/bin/kubeadm')], { default: '/usr/bin/kubeadm' });
/** A kubeadm config file: it carries the bootstrap token, so it is a secret. */
export const KubeadmConfigText = secret(Type.String({ minLength: 1, maxLength: 256 * 1024 }));
export const KubeadmTimeout = Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 }));

const PkiFile = Type.Object(
  {
    /** Directly under /etc/kubernetes/pki or one subdirectory down (`etcd/ca.crt`); no dot segments. */
    path: Type.String({ pattern: '^/etc/kubernetes/pki/([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}/)?[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$' }),
    content: Pem,
    /** Default 0600 for secrets, 0644 otherwise. */
    mode: Type.Optional(Type.Union([Type.Literal('0600'), Type.Literal('0400'), Type.Literal('0640'), Type.Literal('0644')])),
    /** A private key: written 0600 and as a sensitive task (no diff). Default: the path ends in `.key`. */
    secret: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const KubeControlPlaneVars = Type.Object(
  {
    /**
     * The PKI files. Marked secret as a whole: vars redaction does not descend into lists, and the
     * keys must never reach a stored run (the certificates are public, but hiding them costs nothing).
     */
    pki: secret(Type.Array(PkiFile, { minItems: 1, maxItems: 32 })),
    kubeadm: Type.Object(
      {
        /** `init` on the first control plane, `join` (as a control plane) on the others. */
        action: Type.Union([Type.Literal('init'), Type.Literal('join')]),
        config: KubeadmConfigText,
        timeoutMs: KubeadmTimeout,
      },
      { additionalProperties: false },
    ),
    binary: KubeadmBinary,
  },
  { additionalProperties: false },
);

/** Whether a PKI file is a secret: explicit, else by the `.key` suffix kubeadm uses for every private key. */
function isSecret(file: { path: string; secret?: boolean }): boolean {
  return file.secret ?? file.path.endsWith('.key');
}

/** The kube-control-plane role. */
export const kubeControlPlaneRole: RoleDefinition<typeof KubeControlPlaneVars> = {
  name: 'kube-control-plane',
  description: 'the controller’s Kubernetes PKI in /etc/kubernetes/pki, then kubeadm init or join --control-plane',
  vars: KubeControlPlaneVars,
  render({ vars, problem }) {
    const seen = new Set<string>();
    vars.pki.forEach((file, i) => {
      if (seen.has(file.path)) problem(`/vars/pki/${i}/path`, `${file.path} is listed twice`);
      seen.add(file.path);
      if (isSecret(file) && file.mode !== undefined && file.mode !== '0600' && file.mode !== '0400') {
        problem(`/vars/pki/${i}/mode`, `${file.path} is a secret and must not be readable by others (0600 or 0400)`);
      }
    });
    const missing = REQUIRED_CONTROL_PLANE_PKI.filter((f) => !seen.has(`${PKI_DIR}/${f}`));
    if (missing.length > 0) problem('/vars/pki', `missing ${missing.join(', ')}: kubeadm would create its own instead of using the controller’s`);

    const shape = kubeadmConfigShape(vars.kubeadm.config);
    if ('error' in shape) {
      problem('/vars/kubeadm/config', `is not valid YAML: ${shape.error}`);
    } else if (vars.kubeadm.action === 'init' && !(shape.kinds.includes('InitConfiguration') && shape.kinds.includes('ClusterConfiguration'))) {
      problem('/vars/kubeadm/config', `init needs InitConfiguration and ClusterConfiguration (found ${shape.kinds.join(', ') || 'nothing'})`);
    } else if (vars.kubeadm.action === 'join' && !shape.controlPlaneJoin) {
      problem('/vars/kubeadm/config', 'join on a control plane needs a JoinConfiguration with controlPlane set');
    }

    const dirs = [...new Set([PKI_DIR, ...vars.pki.map((f) => parentDir(f.path))])];
    const tasks: RoleTask[] = dirs.map((d) => directoryTask(d));
    for (const file of vars.pki) {
      const key = isSecret(file);
      tasks.push(task(`Write ${file.path}`, 'file', { path: file.path, content: file.content, mode: file.mode ?? (key ? '0600' : '0644') }, { sensitive: key }));
    }
    const { action, config, timeoutMs } = vars.kubeadm;
    tasks.push(
      task(
        action === 'init' ? 'kubeadm init' : 'kubeadm join --control-plane',
        'kubeadm',
        { action, config, binary: vars.binary, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
        // The config carries the bootstrap token.
        { sensitive: true },
      ),
    );
    return { tasks, handlers: [] };
  },
};
