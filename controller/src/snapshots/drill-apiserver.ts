/**
 * The drill's last step: a temporary kube-apiserver on loopback against the throwaway etcd, using
 * the bundle's Kubernetes CA (for a fresh serving certificate and client authentication) and its
 * service-account key pair, then `GET /api/v1/namespaces` as the controller's admin identity
 * (system:masters) from the same bundle. So the drill proves the bundle's PKI, not only the data.
 */
import { createPublicKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { issueServerCert } from '../pki/ca.js';
import { PKI_NAMES } from '../pki/cluster-pki-items.js';
import { bundleItem, type RestoreBundle } from './bundle.js';
import { freeLoopbackPort } from './drill-net.js';
import { startTool, type ToolProcess } from './tools.js';

const NamespaceListSchema = Type.Object({ items: Type.Array(Type.Object({ metadata: Type.Object({ name: Type.String({ maxLength: 253 }) }) }), { maxItems: 100_000 }) });

interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

function get(url: string, tls: ClientTls): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 16 * 1024 * 1024) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Starts kube-apiserver (tracked in `procs`, stopped by the drill) and lists namespaces. */
export async function startApiServer(opts: {
  bin: string;
  etcdUrl: string;
  bundle: RestoreBundle;
  workDir: string;
  readyTimeoutMs: number;
  procs: ToolProcess[];
}): Promise<{ namespaces: string[] } | { skipped: string }> {
  const ca = bundleItem(opts.bundle, PKI_NAMES.kubernetesCa);
  const sa = bundleItem(opts.bundle, PKI_NAMES.serviceAccount);
  const admin = bundleItem(opts.bundle, PKI_NAMES.controllerAdmin);
  if (ca?.certPem == null || sa === null || admin?.certPem == null) {
    return { skipped: 'the bundle has no Kubernetes CA, service-account key or admin certificate (cluster create has not issued them)' };
  }
  const serving = await issueServerCert({ ca: { certPem: ca.certPem, keyPem: ca.keyPem }, commonName: 'ballast-drill-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  await mkdir(opts.workDir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {
    'ca.crt': ca.certPem,
    'apiserver.crt': serving.certPem,
    'apiserver.key': serving.keyPem,
    'sa.key': sa.keyPem,
    'sa.pub': createPublicKey(sa.keyPem).export({ type: 'spki', format: 'pem' }).toString(),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(opts.workDir, name), text, { mode: 0o600 });
  const port = await freeLoopbackPort();
  const serviceCidr = (opts.bundle.spec as { network?: { serviceCidr?: unknown } } | null)?.network?.serviceCidr;
  const api = startTool(opts.bin, [
    `--etcd-servers=${opts.etcdUrl}`,
    '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${port}`,
    `--tls-cert-file=${join(opts.workDir, 'apiserver.crt')}`, `--tls-private-key-file=${join(opts.workDir, 'apiserver.key')}`,
    `--client-ca-file=${join(opts.workDir, 'ca.crt')}`,
    `--service-account-key-file=${join(opts.workDir, 'sa.pub')}`, `--service-account-signing-key-file=${join(opts.workDir, 'sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-cluster-ip-range=${typeof serviceCidr === 'string' ? serviceCidr : '10.96.0.0/12'}`,
    '--authorization-mode=RBAC',
    // A drill must not start controllers that change the restored data beyond what serving needs.
    '--enable-priority-and-fairness=false',
  ]);
  opts.procs.push(api);
  const tls: ClientTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
  const base = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + opts.readyTimeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (api.exited()) throw new BallastError('BALLAST_ERR_DRILL_FAILED', `kube-apiserver exited: ${api.output().slice(-1500)}`);
    if (Date.now() > deadline) throw new BallastError('BALLAST_ERR_DRILL_FAILED', `kube-apiserver was not ready within ${opts.readyTimeoutMs} ms (${last}): ${api.output().slice(-1500)}`);
    try {
      const res = await get(`${base}/readyz`, tls);
      if (res.status === 200) break;
      last = `readyz HTTP ${res.status}`;
    } catch (err) {
      last = messageOf(err);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const res = await get(`${base}/api/v1/namespaces`, tls);
  if (res.status !== 200) throw new BallastError('BALLAST_ERR_DRILL_FAILED', `kube-apiserver answered HTTP ${res.status} to list namespaces: ${res.body.slice(0, 500)}`);
  const list: unknown = JSON.parse(res.body);
  if (!compiledCheck(NamespaceListSchema).Check(list)) throw new BallastError('BALLAST_ERR_DRILL_FAILED', 'kube-apiserver answered a namespace list of an unexpected shape');
  return { namespaces: list.items.map((n) => n.metadata.name) };
}
