/**
 * `kube-worker`: `kubeadm join` as a worker with a config from controller/src/kube/kubeadm-config.ts,
 * then the Kubernetes CA certificate at /etc/kubernetes/pki/ca.crt.
 *
 * The CA is written after the join, not before: kubeadm's worker preflight refuses to join when
 * ca.crt already exists (FileAvailable--etc-kubernetes-pki-ca.crt), and the join itself writes the
 * CA it discovered, which the config pins by `caCertHashes` to the controller's CA. The file task
 * then converges that file to the same bytes, without a managed-by header (the content is what
 * kubeadm writes, so a first run reports no change), and with `force` since kubeadm wrote it.
 */
import { Type } from '@sinclair/typebox';
import { kubeadmConfigShape, PKI_DIR } from '../kube/kubeadm-config.js';
import { KubeadmBinary, KubeadmConfigText, KubeadmTimeout } from './kube-control-plane.js';
import { directoryTask, task } from './tasks.js';
import type { RoleDefinition } from './types.js';

const CertPem = Type.String({ pattern: '^-----BEGIN CERTIFICATE-----\\r?\\n[\\s\\S]+-----END CERTIFICATE-----\\s*$', maxLength: 64 * 1024 });

const KubeWorkerVars = Type.Object(
  {
    /** The Kubernetes CA certificate (never its key). */
    caCert: CertPem,
    kubeadm: Type.Object({ config: KubeadmConfigText, timeoutMs: KubeadmTimeout }, { additionalProperties: false }),
    binary: KubeadmBinary,
  },
  { additionalProperties: false },
);

/** The kube-worker role. */
export const kubeWorkerRole: RoleDefinition<typeof KubeWorkerVars> = {
  name: 'kube-worker',
  description: 'kubeadm join as a worker, then the Kubernetes CA at /etc/kubernetes/pki/ca.crt',
  vars: KubeWorkerVars,
  render({ vars, problem }) {
    const shape = kubeadmConfigShape(vars.kubeadm.config);
    if ('error' in shape) problem('/vars/kubeadm/config', `is not valid YAML: ${shape.error}`);
    else if (!shape.kinds.includes('JoinConfiguration') || shape.controlPlaneJoin) {
      problem('/vars/kubeadm/config', 'a worker needs a JoinConfiguration without controlPlane');
    }
    const { config, timeoutMs } = vars.kubeadm;
    return {
      tasks: [
        task('kubeadm join', 'kubeadm', { action: 'join', config, binary: vars.binary, ...(timeoutMs === undefined ? {} : { timeoutMs }) }, { sensitive: true }),
        directoryTask(PKI_DIR),
        task(`Write ${PKI_DIR}/ca.crt`, 'file', { path: `${PKI_DIR}/ca.crt`, content: vars.caCert, mode: '0644', headerComment: null, force: true }),
      ],
      handlers: [],
    };
  },
};
