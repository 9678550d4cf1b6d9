import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { silentLogger } from '../../../shared/src/log.js';
import { pkiInputs } from '../bootstrap/cluster-facts.js';
import { controlPlaneVars, workerVars } from '../bootstrap/executors/kube.js';
import { sampleSpec } from '../cluster/testing.js';
import { ClusterPki, type ClusterPkiBundle } from '../pki/cluster-pki.js';
import { openStore, type Store } from '../store/store.js';
import { CATALOGUE_KUBE_VERSION, KUBEADM_SHAPES, KUBEADM_V1BETA3_SHAPES } from './testing.js';

/**
 * The proof that kubeadm accepts what Ballast renders: every config shape (testing.ts) goes
 * through the real `kubeadm config validate --config FILE` of the catalogue's Kubernetes, which
 * decodes strictly (an unknown field is an error), defaults and validates every document the way
 * `kubeadm init`/`join` would before touching the host.
 *
 * The binary is the one `scripts/upstream/build.sh` builds from the Go module proxy:
 * /var/cache/ballast/kube/v<catalogue version>/bin/kubeadm, or $BALLAST_KUBE_BIN_DIR/kubeadm.
 * Without it the tests are skipped and say so (building Kubernetes takes ~10 min of two cores, too
 * much for a unit run to start on its own).
 */
const run = promisify(execFile);
const binDir = process.env.BALLAST_KUBE_BIN_DIR ?? `/var/cache/ballast/kube/v${CATALOGUE_KUBE_VERSION}/bin`;
const KUBEADM = join(binDir, 'kubeadm');

function skipReason(): string | null {
  try {
    accessSync(KUBEADM, constants.X_OK);
    return null;
  } catch {
    return `no executable ${KUBEADM}: build it with \`bash scripts/upstream/build.sh --only kube\` (or set BALLAST_KUBE_BIN_DIR)`;
  }
}
const skip = skipReason();
if (skip !== null) console.log(`kubeadm config validate tests skipped: ${skip}`);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'ballast-kubeadm-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Writes `config` to a file and runs `kubeadm config validate` on it. */
async function validate(config: string): Promise<Outcome> {
  const file = join(dir, `config-${files++}.yaml`);
  writeFileSync(file, config);
  try {
    const { stdout, stderr } = await run(KUBEADM, ['config', 'validate', '--config', file], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The `kubernetesVersion` kubeadm is told, from the ClusterConfiguration document. */
function clusterVersion(config: string): unknown {
  const docs = parseAllDocuments(config, { version: '1.1' }).map((d) => d.toJS() as Record<string, unknown>);
  return docs.find((d) => d.kind === 'ClusterConfiguration')?.kubernetesVersion;
}

describe.skipIf(skip !== null)(`kubeadm config validate (real kubeadm v${CATALOGUE_KUBE_VERSION})`, () => {
  it('the binary is the catalogue’s Kubernetes version', async () => {
    const { stdout } = await run(KUBEADM, ['version', '-o', 'short']);
    expect(stdout.trim(), `${KUBEADM} is not the catalogue's kubeadm; rebuild with scripts/upstream/build.sh`).toBe(`v${CATALOGUE_KUBE_VERSION}`);
  });

  it.each(KUBEADM_SHAPES.map((s) => [s.name, s] as const))('%s: ok, no warning', async (_name, shape) => {
    const config = shape.render(CATALOGUE_KUBE_VERSION);
    const out = await validate(config);
    expect(out, config).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('a version with build metadata reaches kubeadm as the release, so the image tags are the release’s', async () => {
    const shape = KUBEADM_SHAPES.find((s) => s.name === 'init, version with build metadata');
    const config = shape?.render(CATALOGUE_KUBE_VERSION) ?? '';
    expect(clusterVersion(config)).toBe(`v${CATALOGUE_KUBE_VERSION}`);
    const file = join(dir, 'images.yaml');
    writeFileSync(file, config);
    const { stdout } = await run(KUBEADM, ['config', 'images', 'list', '--config', file], { timeout: 15_000 });
    // kubeadm would turn `+` into `_` (kube-apiserver:v1.36.3_ballast.standin) had it been told the build.
    expect(stdout.split('\n')).toContain(`registry.k8s.io/kube-apiserver:v${CATALOGUE_KUBE_VERSION}`);
  });

  it.each(KUBEADM_V1BETA3_SHAPES.filter((s) => !s.init).map((s) => [s.name, s] as const))('%s: ok, with kubeadm’s deprecation warning', async (_name, shape) => {
    const out = await validate(shape.render(shape.goldenVersion));
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('ok\n');
    expect(out.stderr).toContain('deprecated API spec: "kubeadm.k8s.io/v1beta3"');
  });

  it('v1beta3 init (Kubernetes 1.30) is refused by this kubeadm for its version only', async () => {
    const shape = KUBEADM_V1BETA3_SHAPES.find((s) => s.init);
    const out = await validate(shape?.render(shape.goldenVersion) ?? '');
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('only supports deploying clusters with the control plane version >= 1.35.0. Current version: v1.30.4');
  });

  // The harness must be able to fail: one broken field per kind of mistake kubeadm catches.
  it.each([
    ['an unknown field (strict decoding)', 'bindPort: 6443', 'bindPorts: 6443', 'unknown field "localAPIEndpoint.bindPorts"'],
    ['an invalid value', 'bindPort: 6443', 'bindPort: 70000', 'localAPIEndpoint.bindPort: Invalid value: 70000'],
    ['a malformed bootstrap token', 'token: abcdef.0123456789abcdef', 'token: abcdef-0123456789abcdef', 'abcdef-0123456789abcdef'],
    ['a control plane older than kubeadm supports', `kubernetesVersion: v${CATALOGUE_KUBE_VERSION}`, 'kubernetesVersion: v1.29.0', 'control plane version'],
  ])('refuses a rendered init config with %s', async (_what, from, to, message) => {
    const config = KUBEADM_SHAPES[0]?.render(CATALOGUE_KUBE_VERSION) ?? '';
    expect(config).toContain(from);
    const out = await validate(config.replace(from, to));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(message);
  });
});

/**
 * The same proof through the bootstrap's own path: a sample cluster (3 stacked control planes, 2
 * workers) pinning the catalogue's Kubernetes as a stand-in build, a real cluster PKI issued into a
 * real SQLite store, and the configs the kube executors send to `cp-1` (init), `cp-2`
 * (join --control-plane) and `w-1` (join).
 */
describe.skipIf(skip !== null)('kubeadm config validate on the configs the bootstrap sends', () => {
  const spec = sampleSpec();
  spec.versions.kubernetes = `${CATALOGUE_KUBE_VERSION}+ballast.standin`;
  let pki: ClusterPkiBundle;
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: join(dir, 'pki.db') });
    pki = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure(spec.name, pkiInputs(spec));
  });
  afterAll(() => store.close());

  it.each([
    ['cp-1', 'init'],
    ['cp-2', 'join'],
    ['w-1', 'worker'],
  ] as const)('%s (%s): ok, no warning', async (host, action) => {
    const vars = action === 'worker' ? workerVars(spec, pki, host) : controlPlaneVars(spec, pki, host, action);
    const config = (vars.kubeadm as { config: string }).config;
    expect(await validate(config), config).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    if (action === 'init') expect(clusterVersion(config)).toBe(`v${CATALOGUE_KUBE_VERSION}`);
  });
});
