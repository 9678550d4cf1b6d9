import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeSummary } from '../../controller/src/kube/client.js';
import { renderInitConfig, renderJoinConfig, type KubeadmConfigInput } from '../../controller/src/kube/kubeadm-config.js';
import { createCa, issueClientCert } from '../../controller/src/pki/ca.js';
import type { ArtifactImportResponse } from '../../shared/src/artifacts-api.js';
import type { RunDocument } from '../../shared/src/runs-api.js';
import { CRICTL_STANDIN_VERSION, type DebianTestBundle, debianTestBundle, KUBE_STANDIN_VERSION } from '../support/bundle.js';
import { createFakeApiServerPki, type FakeApiServerPki, type FakeApiServerProcess, REPO_ROOT, standinEnv, startFakeApiServerProcess } from '../support/fake-apiserver-process.js';
import { parseStandinLog, STANDIN_ENV, STANDIN_LOG, type StandinLogEntry } from '../support/standin/log.js';
import { explain, hostOf, writeVarsFile } from './support-roles.js';
import { figureRecorder, labSkipReason, log, secs } from './support-skip.js';
import { run, waitUntil } from './tool/exec.js';
import { Lab } from './tool/lab.js';
import { ensurePackages } from './tool/packages.js';
import { labDir } from './tool/state.js';

// The kube phases' pieces on real systemd hosts, WITHOUT the bootstrap operation: the kube-node,
// kube-control-plane and kube-worker roles applied by the real agent with `ballastctl apply`, with
// Ballast's recording stand-ins for kubelet/kubeadm/kubectl/crictl (test/support/standin) from the
// offline bundle and the fake kube-apiserver (test/support/fake-apiserver-main.ts) running in the
// controller's namespace — because no real kube-apiserver, kubelet or kubeadm can be installed on
// these machines. host1 is the control plane (and the "VIP": its own address), host2 a worker.
// Root only; every wait is bounded; figures are printed as FIGURE lines.
const skipReason = labSkipReason('kube stand-in lab tests');

const { figures, figure } = figureRecorder();
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const random = (n: number) => [...randomBytes(n)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');

/** The fake API server's address in the controller's namespace. */
const FAKE_LISTEN_PORT = 16443;
/** What the compiled agent must contain for the kube roles (the kubeadm module is new). */
const AGENT_KUBEADM_MODULE = join(REPO_ROOT, 'dist/agent/src/tasks/modules/kubeadm.js');
const KUBE_CLIENT = join(REPO_ROOT, 'dist/controller/src/kube/client.js');

describe.skipIf(skipReason !== null)('lab: kube roles with the kubelet/kubeadm stand-ins and the fake API server', () => {
  let lab: Lab;
  let bundle: DebianTestBundle;
  let work: string;
  let pki: FakeApiServerPki;
  let fake: FakeApiServerProcess | undefined;
  let token: string;
  let vip: string;
  let input: (name: string, address: string) => KubeadmConfigInput;
  const vars: Record<'node' | 'controlPlane' | 'worker', string> = { node: '', controlPlane: '', worker: '' };

  beforeAll(async () => {
    for (const f of [AGENT_KUBEADM_MODULE, KUBE_CLIENT]) {
      if (!existsSync(f)) throw new Error(`${f} is missing: the compiled code is older than the kube roles (run npm run build)`);
    }
    // Never tear down a lab this test did not make: another engineer may be using it.
    if (existsSync(join(labDir(), 'state.json'))) throw new Error(`a lab is up in ${labDir()} (someone else's?): not touching it; run scripts/lab down if it is stale`);
    work = mkdtempSync(join(tmpdir(), 'ballast-lab-kube-'));
    const t0 = Date.now();
    await ensurePackages(log);
    bundle = await debianTestBundle({ log, kubeStandins: true });
    figure('packages and test bundle (with stand-ins) ready', secs(Date.now() - t0));
    const t1 = Date.now();
    lab = await Lab.up({ hosts: 2, log });
    figure('lab up (2 hosts)', secs(Date.now() - t1));
    vip = lab.host('host1').address;
    const controller = lab.state.controllerAddress;
    token = `${random(6)}.${random(16)}`;
    pki = await createFakeApiServerPki(join(work, 'pki'), { ipAddresses: [controller, vip] });
    const t2 = Date.now();
    fake = await startFakeApiServerProcess({
      dir: join(work, 'fake'),
      listen: `${controller}:${FAKE_LISTEN_PORT}`,
      netns: lab.state.controllerNetns,
      pki,
      bootstrapTokens: [token],
      clusterInfoServer: `https://${vip}:6443`,
      gitVersion: `v${KUBE_STANDIN_VERSION}`,
      log,
    });
    figure('fake API server started (incl. compile if stale)', secs(Date.now() - t2));
    const env = standinEnv({ fakeApiServer: `${controller}:${FAKE_LISTEN_PORT}`, heartbeatSeconds: 2 });
    for (const h of ['host1', 'host2']) {
      await lab.exec(h, ['sh', '-c', `mkdir -p /etc/kubernetes && cat > ${STANDIN_ENV}`], { input: env });
    }

    input = (name, address) => ({
      kubernetesVersion: KUBE_STANDIN_VERSION,
      clusterName: 'lab',
      vip,
      networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
      etcdMembers: [vip],
      certSANs: [vip, 'host1'],
      node: { name, address },
      bootstrapToken: { token },
      caCertPem: pki.ca.certPem,
    });
    // The PKI kube-control-plane requires: the cluster CA (the fake's), sa pair, front-proxy CA, etcd CA and client.
    const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const frontProxy = await createCa({ commonName: 'front-proxy-ca', validityDays: 7 });
    const etcdCa = await createCa({ commonName: 'etcd-ca', validityDays: 7 });
    const etcdClient = await issueClientCert({ ca: etcdCa, commonName: 'kube-apiserver-etcd-client', validityDays: 7 });
    const p = (rel: string, content: string) => ({ path: `/etc/kubernetes/pki/${rel}`, content });
    vars.node = writeVarsFile(join(work, 'kube-node.yaml'), {});
    vars.controlPlane = writeVarsFile(join(work, 'kube-control-plane.yaml'), {
      pki: [
        p('ca.crt', pki.ca.certPem),
        p('ca.key', pki.ca.keyPem),
        p('sa.key', sa.privateKey),
        p('sa.pub', sa.publicKey),
        p('front-proxy-ca.crt', frontProxy.certPem),
        p('front-proxy-ca.key', frontProxy.keyPem),
        p('etcd/ca.crt', etcdCa.certPem),
        p('apiserver-etcd-client.crt', etcdClient.certPem),
        p('apiserver-etcd-client.key', etcdClient.keyPem),
      ],
      kubeadm: { action: 'init', config: renderInitConfig(input('host1', vip)) },
    });
    vars.worker = writeVarsFile(join(work, 'kube-worker.yaml'), {
      caCert: pki.ca.certPem,
      kubeadm: { config: renderJoinConfig(input('host2', lab.host('host2').address), { controlPlane: false }) },
    });
  }, 20 * 60_000);

  afterAll(async () => {
    try {
      if (fake !== undefined) {
        await fake.stop();
        console.log(`fake API server log (last lines):\n${spawnSync('tail', ['-n', '15', fake.logFile]).stdout}`);
      }
    } finally {
      try {
        if (lab) await lab.down();
      } finally {
        if (work) rmSync(work, { recursive: true, force: true });
        console.log(`\nKUBE STAND-IN LAB FIGURES\n${figures.map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
      }
    }
  }, 120_000);

  async function apply(role: string, host: string, varsFile: string): Promise<{ doc: RunDocument; ms: number }> {
    const t0 = Date.now();
    const r = await lab.ctl(['apply', role, '--hosts', host, '--vars', varsFile, '-o', 'json'], { timeoutMs: 300_000, allowFail: true });
    const ms = Date.now() - t0;
    if (r.stdout.trim() === '') throw new Error(`ballastctl apply ${role} printed nothing (exit ${r.code}): ${r.stderr.trim()}`);
    const doc = JSON.parse(r.stdout) as RunDocument;
    expect(r.code, explain(doc)).toBe(0);
    expect(doc.status, explain(doc)).toBe('succeeded');
    return { doc, ms };
  }

  async function standinLog(host: string): Promise<StandinLogEntry[]> {
    return parseStandinLog((await lab.exec(host, ['cat', STANDIN_LOG], { allowFail: true })).stdout);
  }

  /**
   * readyz and nodes through createKubeApi (client-node, mTLS with the admin pair) at
   * https://<vip>:6443, run from the lab's client namespace: the lab network is not reachable from
   * the root namespace this test runs in.
   */
  async function kubeApi(): Promise<{ readyz: { ok: boolean; body: string } | { error: string }; nodes: NodeSummary[] | { error: string } }> {
    const options = join(work, 'kube-api.json');
    writeFileSync(options, JSON.stringify({ server: `https://${vip}:6443`, caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem }), { mode: 0o600 });
    const script = join(work, 'kube-api.mjs');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { createKubeApi } from ${JSON.stringify(KUBE_CLIENT)};
const api = createKubeApi({ ...JSON.parse(readFileSync(process.argv[2], 'utf8')), timeoutMs: { readyz: 3000, nodes: 3000, apply: 3000 } });
const err = (e) => ({ error: \`\${e.code}: \${e.message}\` });
const readyz = await api.readyz().catch(err);
const nodes = await api.nodes().catch(err);
console.log(JSON.stringify({ readyz, nodes }));
`,
    );
    const r = await run(['nsenter', `--net=/run/netns/${lab.state.clientNetns}`, process.execPath, script, options], { timeoutMs: 20_000 });
    return JSON.parse(r.stdout);
  }

  async function waitForNode(name: string, ms = 30_000): Promise<NodeSummary> {
    return waitUntil(
      `node ${name} to be Ready in the API`,
      async () => {
        const { nodes } = await kubeApi();
        if ('error' in nodes) throw new Error(nodes.error);
        return nodes.find((n) => n.name === name && n.ready);
      },
      { timeoutMs: ms, intervalMs: 500 },
    );
  }

  it('1. imports the bundle: the Debian binaries plus the four stand-ins, marked as such', async () => {
    const res = await lab.ctlJson<ArtifactImportResponse>(['artifacts', 'import', bundle.path, '-o', 'json'], { timeoutMs: 300_000 });
    expect(res.items.map((i) => [i.artifact.name, i.artifact.version, i.artifact.sha256, i.status]).sort()).toEqual(
      bundle.manifest.map((m) => [m.name, m.version, m.sha256, 'added']).sort(),
    );
    const standins = res.items.filter((i) => bundle.standins.includes(i.artifact.name));
    expect(standins.map((i) => `${i.artifact.name} ${i.artifact.version} ${i.artifact.file}`).sort()).toEqual([
      `crictl ${CRICTL_STANDIN_VERSION} crictl-v${CRICTL_STANDIN_VERSION}-linux-amd64.tar.gz`,
      `kubeadm ${KUBE_STANDIN_VERSION} kubeadm`,
      `kubectl ${KUBE_STANDIN_VERSION} kubectl`,
      `kubelet ${KUBE_STANDIN_VERSION} kubelet`,
    ]);
    for (const i of standins) expect(i.artifact.url).toMatch(/^https:\/\/ballast\.invalid\/standin\//);
  });

  it('2. kube-node on both hosts: the stand-ins installed from the mirror, kubelet enabled but not started', async () => {
    for (const host of ['host1', 'host2']) {
      const { doc, ms } = await apply('kube-node', host, vars.node);
      figure(`apply kube-node on ${host}`, `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
      expect(hostOf(doc, host).recap.failed).toBe(0);
    }
    const sums = await lab.exec('host1', ['sha256sum', '/usr/bin/kubelet', '/usr/bin/kubeadm', '/usr/bin/kubectl']);
    const want = Object.fromEntries(bundle.manifest.map((m) => [m.name, m.sha256]));
    for (const line of sums.stdout.trim().split('\n')) {
      const [sum, path] = line.split(/\s+/);
      expect(sum, `${path} is the raw artifact, byte for byte`).toBe(want[path!.split('/').pop()!]);
    }
    expect((await lab.exec('host1', ['stat', '-c', '%a', '/usr/bin/kubelet', '/usr/bin/crictl'])).stdout.trim().split('\n')).toEqual(['755', '755']);
    expect((await lab.exec('host1', ['kubeadm', 'version', '-o', 'short'])).stdout.trim()).toBe(`v${KUBE_STANDIN_VERSION}`);
    expect((await lab.exec('host1', ['kubectl', 'version'])).stdout).toContain(`Client Version: v${KUBE_STANDIN_VERSION}`);
    expect((await lab.exec('host1', ['crictl', '--version'])).stdout.trim()).toBe(`crictl version v${CRICTL_STANDIN_VERSION}`);
    for (const host of ['host1', 'host2']) {
      expect((await lab.exec(host, ['systemctl', 'is-enabled', 'kubelet'])).stdout.trim()).toBe('enabled');
      expect((await lab.exec(host, ['systemctl', 'is-active', 'kubelet'], { allowFail: true })).stdout.trim()).toBe('inactive');
    }
  });

  it('3. kube-control-plane on host1: kubeadm init recorded, files written, kubelet active, API through :6443, node Ready', async () => {
    const { doc, ms } = await apply('kube-control-plane', 'host1', vars.controlPlane);
    figure('apply kube-control-plane (kubeadm init) on host1', `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
    expect(hostOf(doc, 'host1').results.find((r) => r.name === 'kubeadm init')?.status).toBe('changed');

    // kubeadm returns once the API answers; kubelet registers on its next try (heartbeat 2 s).
    const t0 = Date.now();
    const node = await waitForNode('host1');
    figure('kubeadm init done → node host1 Ready via createKubeApi().nodes()', secs(Date.now() - t0));
    expect(node).toEqual({ name: 'host1', ready: true, roles: ['control-plane'], notReadySince: null });

    const entries = await standinLog('host1');
    console.log(`stand-in log on host1:\n${entries.map((e) => `  ${e.time} ${e.prog}: ${e.what}`).join('\n')}`);
    const config = '/etc/kubernetes/ballast/kubeadm-init.yaml';
    const init = entries.find((e) => e.prog === 'kubeadm' && e.what.startsWith('init '));
    expect(init?.what).toBe(`init --config ${config}`);
    const written = (await lab.exec('host1', ['sha256sum', config])).stdout.split(' ')[0];
    expect(init?.details['config-sha256']).toBe(written);
    // The order kubeadm and kubelet go through: init, kubelet started by kubeadm, kubelet's argv
    // from the drop-in, the static pod, the registration.
    const steps = entries.map((e) => `${e.prog}: ${e.what}`);
    const at = (pattern: RegExp) => steps.findIndex((s) => pattern.test(s));
    const order = [/^kubeadm: init /, /^kubeadm: systemctl start kubelet/, /^kubelet: kubelet --bootstrap-kubeconfig=/, /^kubelet: started the kube-apiserver static pod/, /^kubelet: registered node host1 /];
    const positions = order.map(at);
    expect(positions.every((p) => p >= 0), `steps:\n${steps.join('\n')}`).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const argv = steps[positions[2]!]!;
    for (const flag of ['--kubeconfig=/etc/kubernetes/kubelet.conf', '--config=/var/lib/kubelet/config.yaml', '--container-runtime-endpoint=unix:///run/containerd/containerd.sock', `--node-ip=${vip}`]) {
      expect(argv).toContain(flag);
    }

    const files = [
      '/etc/kubernetes/admin.conf',
      '/etc/kubernetes/kubelet.conf',
      '/etc/kubernetes/bootstrap-kubelet.conf',
      '/etc/kubernetes/manifests/kube-apiserver.yaml',
      '/var/lib/kubelet/config.yaml',
      '/var/lib/kubelet/kubeadm-flags.env',
      '/etc/kubernetes/pki/ca.key',
    ];
    const present = await lab.exec('host1', ['sh', '-c', 'for p in "$@"; do [ -f "$p" ] && echo "$p"; done; true', 'sh', ...files]);
    expect(present.stdout.trim().split('\n')).toEqual(files);
    expect((await lab.exec('host1', ['grep', 'server:', '/etc/kubernetes/kubelet.conf'])).stdout.trim()).toBe(`server: https://${vip}:6443`);
    expect((await lab.exec('host1', ['systemctl', 'is-active', 'kubelet'])).stdout.trim()).toBe('active');
    expect((await lab.exec('host1', ['curl', '-sS', '--max-time', '3', 'http://127.0.0.1:10248/healthz'])).stdout).toBe('ok');

    const { readyz } = await kubeApi();
    expect(readyz).toMatchObject({ ok: true });
    expect((readyz as { body: string }).body).toContain('readyz check passed');
    // Without a client certificate the (forwarded) API answers /readyz (public info, as in a kubeadm
    // cluster: the VIP's health check relies on it) and refuses everything else, as kube-apiserver does.
    const curl = (path: string) => lab.exec('host2', ['curl', '-sS', '-k', '--max-time', '3', '-o', '/dev/null', '-w', '%{http_code}', `https://${vip}:6443${path}`]);
    expect((await curl('/readyz')).stdout).toBe('200');
    expect((await curl('/api/v1/nodes')).stdout).toBe('403');
  });

  it('4. kube-worker on host2: discovery pins the CA, kubeadm join recorded, node host2 Ready', async () => {
    const { doc, ms } = await apply('kube-worker', 'host2', vars.worker);
    figure('apply kube-worker (kubeadm join) on host2', `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
    const h = hostOf(doc, 'host2');
    expect(h.results.find((r) => r.name === 'kubeadm join')?.status).toBe('changed');
    // The join wrote the CA it discovered (pinned by caCertHashes); the role's file task then finds
    // exactly those bytes, as the role's comment says of the real kubeadm.
    expect(h.results.find((r) => r.name === 'Write /etc/kubernetes/pki/ca.crt')?.status).toBe('ok');
    expect((await lab.exec('host2', ['cat', '/etc/kubernetes/pki/ca.crt'])).stdout).toBe(pki.ca.certPem);
    const steps = (await standinLog('host2')).map((e) => `${e.prog}: ${e.what}`);
    console.log(`stand-in log on host2:\n  ${steps.join('\n  ')}`);
    expect(steps.find((s) => s.startsWith('kubeadm: join '))).toBe('kubeadm: join --config /etc/kubernetes/ballast/kubeadm-join.yaml');
    expect(steps.some((s) => s.startsWith('kubelet: started the kube-apiserver static pod'))).toBe(false);
    expect((await lab.exec('host2', ['test', '!', '-e', '/etc/kubernetes/manifests/kube-apiserver.yaml'])).code).toBe(0);
    const t0 = Date.now();
    const node = await waitForNode('host2');
    figure('kubeadm join done → node host2 Ready', secs(Date.now() - t0));
    expect(node).toEqual({ name: 'host2', ready: true, roles: [], notReadySince: null });
    // The fake saw both kubelets as bootstrap-token users, through host1's :6443.
    const state = fake!.state();
    const posts = state.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/nodes');
    expect(new Set(posts.map((r) => r.user))).toEqual(new Set([`system:bootstrap:${token.split('.')[0]}`]));
    expect(posts.filter((r) => r.status === 201)).toHaveLength(2);
    expect(fake!.nodes().map((n) => (n.metadata as { name: string }).name).sort()).toEqual(['host1', 'host2']);
  });

  it('5. a second apply of every role changes nothing', async () => {
    for (const [role, host, file] of [
      ['kube-node', 'host1', vars.node],
      ['kube-node', 'host2', vars.node],
      ['kube-control-plane', 'host1', vars.controlPlane],
      ['kube-worker', 'host2', vars.worker],
    ] as const) {
      const { doc, ms } = await apply(role, host, file);
      figure(`second apply ${role} on ${host}`, `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
      const h = hostOf(doc, host);
      expect(h.recap.changed, `${role} on ${host}: ${h.results.filter((r) => r.status === 'changed').map((r) => `${r.name}: ${r.message}`).join('; ')}`).toBe(0);
      expect(h.recap.failed).toBe(0);
    }
    // kubeadm ran once per host: the module's guard stopped the second runs.
    expect((await standinLog('host1')).filter((e) => e.prog === 'kubeadm' && e.what.startsWith('init ')).length).toBe(1);
    expect((await standinLog('host2')).filter((e) => e.prog === 'kubeadm' && e.what.startsWith('join ')).length).toBe(1);
    expect(sha256(pki.ca.certPem)).toBe(sha256((await lab.exec('host2', ['cat', '/etc/kubernetes/pki/ca.crt'])).stdout));
  });
});
