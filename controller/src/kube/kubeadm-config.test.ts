import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isBallastError } from '../../../shared/src/errors.js';
import {
  type KubeadmConfigInput,
  KUBEADM_V1BETA3,
  KUBEADM_V1BETA4,
  caCertHash,
  kubeadmApiVersion,
  renderInitConfig,
  renderJoinConfig,
} from './kubeadm-config.js';
import { GOLDEN_CA_PEM, GOLDEN_DIR, goldenInput, KUBEADM_SHAPES, KUBEADM_V1BETA3_SHAPES } from './testing.js';

/**
 * Golden files: test/golden/kubeadm/*.yaml, compared byte for byte. `UPDATE_GOLDEN=1 npx vitest run
 * controller/src/kube/kubeadm-config.test.ts` rewrites them; review the diff before committing.
 * They are a diff aid; the proof that kubeadm accepts each shape is kubeadm-validate.test.ts, which
 * runs the real `kubeadm config validate`.
 */
const CA_PEM = GOLDEN_CA_PEM;
/** The catalogue's Kubernetes (v1beta4). */
const BASE: KubeadmConfigInput = goldenInput('1.36.3');
/** A cluster pinning an older Kubernetes (v1beta3). */
const V130: KubeadmConfigInput = goldenInput('1.30.4');

function golden(name: string, actual: string): void {
  const path = `${GOLDEN_DIR}${name}`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  expect(actual, `${name} differs; UPDATE_GOLDEN=1 rewrites it`).toBe(readFileSync(path, 'utf8'));
}

const SHAPES = [...KUBEADM_SHAPES, ...KUBEADM_V1BETA3_SHAPES];
const CASES: [string, () => string][] = SHAPES.map((s) => [s.golden ?? s.name, () => s.render(s.goldenVersion)]);

describe('kubeadm config golden files', () => {
  it.each(SHAPES.filter((s) => s.golden !== null).map((s) => [s.golden ?? '', () => s.render(s.goldenVersion)] as const))('%s', (name, render) =>
    golden(name, render()),
  );
});

/*
 * The fields of kubeadm's Go types (cmd/kubeadm/app/apis/kubeadm/v1beta3|v1beta4/types.go and
 * bootstraptoken/v1), by JSON name. A rendered key outside these is a typo kubeadm would reject in
 * strict decoding; `true` marks a leaf, a nested object its fields, `[fields]` a list of objects.
 */
type Fields = { [k: string]: true | Fields | [Fields] };
const ARG: Fields = { name: true, value: true };
const ENDPOINT: Fields = { advertiseAddress: true, bindPort: true };
function nodeRegistration(v4: boolean): Fields {
  return {
    name: true,
    criSocket: true,
    taints: [{ key: true, value: true, effect: true, timeAdded: true }],
    kubeletExtraArgs: v4 ? [ARG] : true,
    ignorePreflightErrors: true,
    imagePullPolicy: true,
    ...(v4 ? { imagePullSerial: true } : {}),
  };
}
function kubeadmTypes(v4: boolean): Record<string, Fields> {
  const common: Fields = { apiVersion: true, kind: true };
  const v4Only: Fields = v4 ? { dryRun: true, timeouts: true } : {};
  return {
    InitConfiguration: {
      ...common,
      ...v4Only,
      bootstrapTokens: [{ token: true, description: true, ttl: true, expires: true, usages: true, groups: true }],
      nodeRegistration: nodeRegistration(v4),
      localAPIEndpoint: ENDPOINT,
      certificateKey: true,
      skipPhases: true,
      patches: { directory: true },
    },
    ClusterConfiguration: {
      ...common,
      etcd: { local: true, external: { endpoints: true, caFile: true, certFile: true, keyFile: true } },
      networking: { serviceSubnet: true, podSubnet: true, dnsDomain: true },
      kubernetesVersion: true,
      controlPlaneEndpoint: true,
      apiServer: { extraArgs: v4 ? [ARG] : true, extraVolumes: true, certSANs: true, ...(v4 ? { extraEnvs: true } : { timeoutForControlPlane: true }) },
      controllerManager: true,
      scheduler: true,
      dns: true,
      certificatesDir: true,
      imageRepository: true,
      featureGates: true,
      clusterName: true,
      ...(v4 ? { proxy: true, encryptionAlgorithm: true, certificateValidityPeriod: true, caCertificateValidityPeriod: true } : {}),
    },
    JoinConfiguration: {
      ...common,
      ...v4Only,
      nodeRegistration: nodeRegistration(v4),
      caCertPath: true,
      discovery: {
        bootstrapToken: { token: true, apiServerEndpoint: true, caCertHashes: true, unsafeSkipCAVerification: true },
        file: { kubeConfigPath: true },
        tlsBootstrapToken: true,
        ...(v4 ? {} : { timeout: true }),
      },
      controlPlane: { localAPIEndpoint: ENDPOINT, certificateKey: true },
      skipPhases: true,
      patches: { directory: true },
    },
  };
}

/** Every key path of `value` not allowed by `fields`. */
function unknownKeys(value: unknown, fields: Fields | [Fields] | true, path: string): string[] {
  if (fields === true) return [];
  if (Array.isArray(fields)) {
    if (!Array.isArray(value)) return [`${path} (want a list)`];
    return value.flatMap((item, i) => unknownKeys(item, fields[0], `${path}/${i}`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path} (want an object)`];
  return Object.entries(value).flatMap(([k, v]) => {
    const f = fields[k];
    return f === undefined ? [`${path}/${k}`] : unknownKeys(v, f, `${path}/${k}`);
  });
}

function parse(yamlText: string): Record<string, unknown>[] {
  // YAML 1.1 as kubeadm reads it: a string that 1.1 would turn into a bool or number must be quoted.
  return parseAllDocuments(yamlText, { version: '1.1' }).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Record<string, unknown>;
  });
}
const at = (doc: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o === null || typeof o !== 'object' ? undefined : (o as Record<string, unknown>)[k]), doc);

describe('kubeadm config structure', () => {
  it.each(CASES)('%s uses only fields kubeadm knows, per kind and apiVersion', (_name, render) => {
    for (const doc of parse(render())) {
      if (doc.apiVersion === 'kubelet.config.k8s.io/v1beta1') {
        // Only the cgroup driver, and failCgroupV1 false where the cluster allows cgroup v1 hosts.
        expect(doc).toEqual(
          doc.failCgroupV1 === undefined
            ? { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd' }
            : { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'cgroupfs', failCgroupV1: false },
        );
        continue;
      }
      expect([KUBEADM_V1BETA3, KUBEADM_V1BETA4]).toContain(doc.apiVersion);
      const types = kubeadmTypes(doc.apiVersion === KUBEADM_V1BETA4);
      const fields = types[String(doc.kind)];
      expect(fields, `kind ${String(doc.kind)}`).toBeDefined();
      if (fields !== undefined) expect(unknownKeys(doc, fields, '')).toEqual([]);
    }
  });

  it('init: the required fields, external etcd with the apiserver client pair, the VIP as endpoint', () => {
    for (const [input, api] of [[V130, KUBEADM_V1BETA3], [BASE, KUBEADM_V1BETA4]] as const) {
      const [init, cluster, kubelet] = parse(renderInitConfig(input));
      expect(init).toMatchObject({ apiVersion: api, kind: 'InitConfiguration' });
      expect(at(init, 'localAPIEndpoint')).toEqual({ advertiseAddress: '10.20.0.11', bindPort: 6443 });
      expect(at(init, 'nodeRegistration.criSocket')).toBe('unix:///run/containerd/containerd.sock');
      expect(at(init, 'nodeRegistration.taints')).toBeUndefined(); // kubeadm's default control-plane taint
      expect(at(init, 'nodeRegistration.kubeletExtraArgs')).toEqual(
        api === KUBEADM_V1BETA4 ? [{ name: 'node-ip', value: '10.20.0.11' }] : { 'node-ip': '10.20.0.11' },
      );
      expect(at(init, 'bootstrapTokens')).toEqual([expect.objectContaining({ token: 'abcdef.0123456789abcdef', ttl: '2h0m0s' })]);
      expect(cluster).toMatchObject({
        apiVersion: api,
        kind: 'ClusterConfiguration',
        kubernetesVersion: input.kubernetesVersion.startsWith('v') ? input.kubernetesVersion : `v${input.kubernetesVersion}`,
        clusterName: 'prod-east',
        controlPlaneEndpoint: '10.20.0.10:6443',
        certificatesDir: '/etc/kubernetes/pki',
        networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
      });
      expect(at(cluster, 'etcd')).toEqual({
        external: {
          endpoints: ['https://10.20.0.11:2379', 'https://10.20.0.12:2379', 'https://10.20.0.13:2379'],
          caFile: '/etc/kubernetes/pki/etcd/ca.crt',
          certFile: '/etc/kubernetes/pki/apiserver-etcd-client.crt',
          keyFile: '/etc/kubernetes/pki/apiserver-etcd-client.key',
        },
      });
      // The VIP first, then each address once.
      expect(at(cluster, 'apiServer.certSANs')).toEqual(['10.20.0.10', '10.20.0.11', '10.20.0.12', '10.20.0.13', 'cp-1', 'cp-2', 'cp-3', 'k8s.prod-east.example']);
      expect(kubelet).toMatchObject({ kind: 'KubeletConfiguration', cgroupDriver: 'systemd' });
    }
  });

  it('join: token discovery through the VIP pinned to the CA key; control planes add their endpoint, workers no taints', () => {
    const [cp] = parse(renderJoinConfig({ ...BASE, node: { name: 'cp-2', address: '10.20.0.12' } }, { controlPlane: true }));
    expect(at(cp, 'discovery.bootstrapToken')).toEqual({ apiServerEndpoint: '10.20.0.10:6443', token: 'abcdef.0123456789abcdef', caCertHashes: [caCertHash(CA_PEM)] });
    expect(at(cp, 'controlPlane')).toEqual({ localAPIEndpoint: { advertiseAddress: '10.20.0.12', bindPort: 6443 } });
    expect(at(cp, 'nodeRegistration.taints')).toBeUndefined();
    const [worker] = parse(renderJoinConfig({ ...V130, node: { name: 'w-1', address: '10.20.1.21' } }, { controlPlane: false }));
    expect(worker?.apiVersion).toBe(KUBEADM_V1BETA3);
    expect(at(worker, 'controlPlane')).toBeUndefined();
    expect(at(worker, 'nodeRegistration.taints')).toEqual([]);
    expect(at(worker, 'nodeRegistration.kubeletExtraArgs')).toEqual({ 'node-ip': '10.20.1.21' });
  });

  it('cgroup v1 hosts: cgroupfs, failCgroupV1 false and only SystemVerification ignored; skipped add-ons become skipPhases', () => {
    const input = { ...BASE, kubelet: { cgroupDriver: 'cgroupfs' as const, allowCgroupV1: true }, skipAddons: ['coredns' as const, 'kube-proxy' as const] };
    const [init, , kubelet] = parse(renderInitConfig(input));
    expect(at(init, 'skipPhases')).toEqual(['addon/coredns', 'addon/kube-proxy']);
    expect(at(init, 'nodeRegistration.ignorePreflightErrors')).toEqual(['SystemVerification']);
    expect(kubelet).toEqual({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'cgroupfs', failCgroupV1: false });
    const [worker] = parse(renderJoinConfig({ ...input, node: { name: 'w-1', address: '10.20.1.21' } }, { controlPlane: false }));
    expect(at(worker, 'nodeRegistration.ignorePreflightErrors')).toEqual(['SystemVerification']);
    expect(at(worker, 'skipPhases')).toBeUndefined();
    // The defaults change nothing kubeadm would otherwise do.
    const [plain] = parse(renderInitConfig({ ...BASE, skipAddons: [] }));
    expect(at(plain, 'skipPhases')).toBeUndefined();
    expect(at(plain, 'nodeRegistration.ignorePreflightErrors')).toBeUndefined();
  });

  it('brackets an IPv6 VIP and etcd member in host:port', () => {
    const text = renderInitConfig({ ...BASE, vip: 'fd00::10', etcdMembers: ['fd00::11'], node: { name: 'cp-1', address: 'fd00::11' } });
    const [, cluster] = parse(text);
    expect(at(cluster, 'controlPlaneEndpoint')).toBe('[fd00::10]:6443');
    expect(at(cluster, 'etcd.external.endpoints')).toEqual(['https://[fd00::11]:2379']);
  });

  it('tells kubeadm the release: build metadata is dropped, a pre-release kept', () => {
    const version = (v: string) => at(parse(renderInitConfig({ ...BASE, kubernetesVersion: v }))[1], 'kubernetesVersion');
    expect(version('1.36.3+ballast.standin')).toBe('v1.36.3');
    expect(version('v1.36.3+ballast.standin')).toBe('v1.36.3');
    expect(version('1.36.0-rc.1+b.2')).toBe('v1.36.0-rc.1');
    expect(renderInitConfig({ ...BASE, kubernetesVersion: '1.36.3+ballast.standin' })).toBe(renderInitConfig(BASE));
  });
});

describe('kubeadmApiVersion and caCertHash', () => {
  it('picks v1beta4 from 1.31 and v1beta3 from 1.22 to 1.30, refusing older', () => {
    expect(kubeadmApiVersion('v1.30.99')).toBe(KUBEADM_V1BETA3);
    expect(kubeadmApiVersion('1.22.0')).toBe(KUBEADM_V1BETA3);
    expect(kubeadmApiVersion('1.31.0')).toBe(KUBEADM_V1BETA4);
    expect(kubeadmApiVersion('v1.33.1-rc.0')).toBe(KUBEADM_V1BETA4);
    expect(kubeadmApiVersion('1.36.3+ballast.standin')).toBe(KUBEADM_V1BETA4);
    expect(kubeadmApiVersion('1.30.4+ballast.standin')).toBe(KUBEADM_V1BETA3);
    expect(() => kubeadmApiVersion('1.21.14')).toThrow(/not supported/);
  });

  it('hashes the DER SubjectPublicKeyInfo as openssl does', () => {
    const pub = execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: CA_PEM });
    const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: pub });
    const hex = execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: der }).toString().split(' ')[0];
    expect(caCertHash(CA_PEM)).toBe(`sha256:${hex}`);
  });

  it('reports every input problem at once as BALLAST_ERR_VALIDATION', () => {
    const bad = { ...BASE, bootstrapToken: { token: 'ABC.def' }, networking: { ...BASE.networking, podSubnet: 'ten/8' }, extra: 1 } as unknown as KubeadmConfigInput;
    let caught: unknown;
    try {
      renderInitConfig(bad);
    } catch (err) {
      caught = err;
    }
    expect(isBallastError(caught, 'BALLAST_ERR_VALIDATION')).toBe(true);
    const message = (caught as Error).message;
    expect(message).toContain('/bootstrapToken/token');
    expect(message).toContain('/networking/podSubnet');
    expect(() => renderInitConfig({ ...BASE, node: { name: 'cp-1', address: 'cp-1.example' } })).toThrow(/\/node\/address: must be an IP address/);
    expect(() => renderJoinConfig({ ...BASE, caCertPem: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n' }, { controlPlane: false })).toThrow(/\/caCertPem/);
  });
});
