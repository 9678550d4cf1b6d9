import { stringify } from 'yaml';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';

/** The operator client context (like kubeadm's admin.conf) that ballastctl reads. */
export interface AdminConf {
  server: string;
  caCert: string;
  token: string;
  user: string;
}

/** Writes admin.conf with mode 0600: it holds an admin token. */
export async function writeAdminConf(path: string, conf: AdminConf): Promise<void> {
  const doc = { apiVersion: 'ballast.dev/v1alpha1', kind: 'Config', ...conf };
  await writeFileAtomic(path, `# Written by ballast-controller: an admin credential. Keep it 0600.\n${stringify(doc)}`, 0o600);
}
