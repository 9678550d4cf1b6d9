/**
 * `images`: the container images a Kubernetes host needs, from the mirror into containerd (issue
 * 11: Kubernetes with no registry; air-gapped users). Runs after containerd is up and before
 * kubeadm, so kubeadm's preflight and kubelet find every image already present:
 *
 * - every host: the pause image containerd uses as its sandbox (`sandboxImage`, the same var and
 *   default as the containerd role); kube-proxy at the cluster's version when the mirror has it and
 *   the add-on is on — a DaemonSet, so workers run it too, not only control planes; CoreDNS (the
 *   newest `image-coredns`) when the mirror has it and the add-on is on — its pods go to any node;
 * - control planes: kube-apiserver, kube-controller-manager and kube-scheduler tagged with the
 *   cluster's Kubernetes version (with or without the leading `v`).
 *
 * The mirror decides: when it holds no image artifacts for the host's arch, the role renders no
 * task at all, and kubeadm/kubelet pull from the registry as before. When it holds some, the set a
 * host needs must be complete — a half-filled mirror would otherwise fail later inside kubeadm with
 * an image-pull timeout — so each missing image is a render problem naming it. References and image
 * IDs come only from the mirror's entries (admin-trusted on import), never from a var: the operator
 * picks versions, not what runs as the control plane.
 */
import { Type } from '@sinclair/typebox';
import { under } from '../../../shared/src/tasks/safety.js';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { checkPathVar } from './safe-vars.js';
import { bareVersion, task } from './tasks.js';
import type { ArtifactRecord, RoleDefinition, RoleTask } from './types.js';

/** The pause `kubeadm config images list` names for Kubernetes 1.36 (kubeadm's preflight warns on another). */
export const DEFAULT_SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10.2';
/** containerd's `sandbox_image` (and the images role's pause): a tagged reference. */
export const SandboxImage = Type.String({ pattern: '^[A-Za-z0-9./:_@-]{1,255}$', default: DEFAULT_SANDBOX_IMAGE });
/** The control-plane components whose images kubeadm's static pods run. */
export const CONTROL_PLANE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

const ImagesVars = Type.Object(
  {
    /** The control-plane images' tag; the newest kube-apiserver image in the mirror when absent. */
    kubernetesVersion: Type.Optional(Type.String({ pattern: '^v?[0-9A-Za-z._+-]{1,63}$' })),
    /** Import the control-plane images too. */
    controlPlane: Type.Boolean({ default: false }),
    /** kubeadm's add-ons (cluster spec `addons`): their images are imported only when they run. */
    kubeProxy: Type.Boolean({ default: true }),
    coreDns: Type.Boolean({ default: true }),
    sandboxImage: SandboxImage,
    /** containerd's socket (the containerd role's `socket`). */
    socket: Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: '/run/containerd/containerd.sock' }),
    /** The ctr the containerd role installed (its `binDir` + /ctr). */
    ctr: Type.Union([Type.Literal('/usr/local/bin/ctr'), Type.Literal('/usr/bin/ctr')], { default: '/usr/local/bin/ctr' }),
  },
  { additionalProperties: false },
);

/** Where the socket may be (the containerd role's rule). */
export const IMAGES_PATH_RULES = { socket: [under('/run/containerd')] } as const;

/** The images role. */
export const imagesRole: RoleDefinition<typeof ImagesVars> = {
  name: 'images',
  description: 'container images from the mirror into containerd (pause, kube-proxy; control-plane images on control planes); nothing when the mirror has none',
  vars: ImagesVars,
  render({ host, vars, images, problem }) {
    checkPathVar(problem, '/vars/socket', vars.socket, IMAGES_PATH_RULES.socket);
    const all = images();
    if (all.length === 0) return { tasks: [], handlers: [] };
    const named = (name: string, tag?: string) =>
      all.filter((a) => a.name === name && (tag === undefined || bareVersion(a.version) === bareVersion(tag))).sort((a, b) => compareVersions(bareVersion(b.version), bareVersion(a.version)))[0];
    const missing = (path: string, what: string) =>
      problem(path, `the mirror holds container images for ${host.arch} but not ${what}; import it (ballastctl artifacts import), or remove the images so that kubelet pulls from the registry`);
    const wanted: ArtifactRecord[] = [];
    const pause = all.find((a) => a.image?.ref === vars.sandboxImage);
    if (pause === undefined) missing('/vars/sandboxImage', `the sandbox image ${vars.sandboxImage}`);
    else wanted.push(pause);
    if (vars.controlPlane) {
      const version = vars.kubernetesVersion ?? named('image-kube-apiserver')?.version;
      for (const component of CONTROL_PLANE_COMPONENTS) {
        const found = version === undefined ? undefined : named(`image-${component}`, version);
        if (found === undefined) missing(`/artifacts/image-${component}`, `image-${component} ${version ?? '(any version)'}`);
        else wanted.push(found);
      }
    }
    // kube-proxy only if the mirror has it at the cluster's version: clusters may run without it.
    const version = vars.kubernetesVersion ?? named('image-kube-apiserver')?.version;
    const proxy = version === undefined || !vars.kubeProxy ? undefined : named('image-kube-proxy', version);
    if (proxy !== undefined) wanted.push(proxy);
    // CoreDNS has its own release line; kubeadm names one per Kubernetes minor, the mirror brings it.
    const coreDns = vars.coreDns ? named('image-coredns') : undefined;
    if (coreDns !== undefined) wanted.push(coreDns);
    const tasks: RoleTask[] = wanted.flatMap((a) =>
      a.image === undefined
        ? []
        : [
            task(`Import image ${a.image.ref}`, 'image', {
              name: a.name,
              version: a.version,
              arch: a.arch,
              sha256: a.sha256,
              ref: a.image.ref,
              id: a.image.id,
              address: vars.socket,
              ctr: vars.ctr,
            }),
          ],
    );
    return { tasks, handlers: [] };
  },
};
