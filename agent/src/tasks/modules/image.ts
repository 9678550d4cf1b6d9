/**
 * `image`: a container image from the controller's mirror into containerd's `k8s.io` namespace, so
 * kubelet and kubeadm find it without a registry (issue 11; what air-gapped users need too).
 *
 * Converge: when containerd already holds `ref` with image ID `id` and all its content, nothing is
 * downloaded and the task is ok. Otherwise the archive is downloaded exactly as `artifact` does it
 * (streamed into a private work file, sha256 checked before any use, size bounded), checked against
 * `ref`/`id`/`arch` (image-archive.ts), imported with `ctr images import --platform linux/<arch>`,
 * and read back: containerd must then report `id` under `ref`. The work file is removed whatever
 * happens. A reference that points at another image is re-pointed (that is what import does), which
 * is what a new pin in the mirror means.
 *
 * containerd must be running: without its socket the module fails with
 * BALLAST_ERR_CONTAINERD_UNAVAILABLE — except in check mode, which then reports the import it
 * would do (a `cluster create --check` runs before the containerd role has started anything).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { artifactLabel } from '../../../../shared/src/artifacts-api.js';
import { BallastError } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { CONTAINERD_SOCKET_PATHS, describeRules, pathAllowed, pathProblem } from '../../../../shared/src/tasks/safety.js';
import { lstatOrNull } from '../attrs.js';
import { hostPath, type Module, type ModuleContext, type ModuleOutcome } from '../module.js';
import { ARTIFACT_WORK_DIR, fetchVerified } from './artifact.js';
import { checkImageArchive } from './image-archive.js';
import { type Ctr, importArchive, presentImage } from './image-ctr.js';

/** containerd's default socket (the containerd role's `socket` default). */
export const DEFAULT_CONTAINERD_ADDRESS = '/run/containerd/containerd.sock';
/** Where the containerd role installs ctr by default. */
export const DEFAULT_CTR = '/usr/local/bin/ctr';
/** The largest image archive accepted: kube-apiserver is ~100 MiB; upstream's biggest control-plane image is well under this. */
export const MAX_IMAGE_ARCHIVE_BYTES = 1024 ** 3;

type Args = ModuleArgs<'image'>;

/** Options of {@link createImageModule}. */
export interface ImageModuleOptions {
  /** Largest archive accepted (default {@link MAX_IMAGE_ARCHIVE_BYTES}). */
  maxBytes?: number;
}

/** The `image` module; see the file comment. */
export function createImageModule(opts: ImageModuleOptions = {}): Module<'image'> {
  const maxBytes = opts.maxBytes ?? MAX_IMAGE_ARCHIVE_BYTES;
  return {
    name: 'image',
    async run(args, ctx) {
      const label = artifactLabel(args);
      const c: Ctr = { exec: ctx.exec, binary: args.ctr ?? DEFAULT_CTR, address: socketPath(args, ctx), signal: ctx.signal };
      const running = await containerdListening(c.address);
      if (!running && ctx.check) {
        return { changed: true, message: `would import ${args.ref} (${short(args.id)}) from ${label} (containerd is not running yet)`, ...diff(ctx, args, null) };
      }
      if (!running) {
        throw new BallastError(
          'BALLAST_ERR_CONTAINERD_UNAVAILABLE',
          `failed to import image ${args.ref}: containerd is not running (no socket at ${args.address ?? DEFAULT_CONTAINERD_ADDRESS}); the containerd role starts it`,
        );
      }
      const before = await presentImage(c, args.ref, args.arch);
      if (before?.id === args.id) return { changed: false, message: `${args.ref} is present (${short(args.id)})` };
      const was = before === null ? '' : before.id === null ? ` (its content is ${before.status})` : `, replacing ${short(before.id)}`;
      if (ctx.check) return { changed: true, message: `would import ${args.ref} (${short(args.id)}) from ${label}${was}`, ...diff(ctx, args, before?.id ?? null) };
      await importVerified(args, ctx, c, label, maxBytes);
      const after = await presentImage(c, args.ref, args.arch);
      if (after?.id !== args.id) {
        throw new BallastError(
          'BALLAST_ERR_IMAGE_MISMATCH',
          `failed to import image ${args.ref}: after the import containerd reports ${after === null ? 'no such image' : (after.id ?? `content ${after.status}`)}, not ${args.id}`,
        );
      }
      return { changed: true, message: `imported ${args.ref} (${short(args.id)}) from ${label}${was}`, ...diff(ctx, args, before?.id ?? null) };
    },
    // Read-only, as `run` judges first: the archive is needed unless containerd already has the image.
    // containerd not running yet (a run that starts it in an earlier task): the archive is almost
    // surely needed, so it is fetched ahead all the same (a wrong guess costs one download, never
    // correctness — prefetch.ts).
    async prefetch(args, ctx) {
      const c: Ctr = { exec: ctx.exec, binary: args.ctr ?? DEFAULT_CTR, address: socketPath(args, ctx), signal: ctx.signal };
      const ref = { name: args.name, version: args.version, arch: args.arch, sha256: args.sha256, maxBytes };
      if (!(await containerdListening(c.address))) return ref;
      if ((await presentImage(c, args.ref, args.arch))?.id === args.id) return null;
      return ref;
    },
  };
}

/** The module with its defaults, as the agent registers it. */
export const imageModule: Module<'image'> = createImageModule();

/** Downloads and verifies the archive into a private work file, checks what it is, imports it, removes it. */
async function importVerified(args: Args, ctx: ModuleContext, c: Ctr, label: string, maxBytes: number): Promise<void> {
  const workDir = hostPath(ctx, ARTIFACT_WORK_DIR);
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const file = join(workDir, `.${args.name}-${args.version}-${args.arch}.${randomBytes(6).toString('hex')}.tar`);
  try {
    await fetchVerified(args, ctx, file, label, maxBytes);
    await checkImageArchive(file, { ref: args.ref, id: args.id, arch: args.arch, label });
    await importArchive(c, file, args.ref, args.arch);
  } finally {
    await rm(file, { force: true });
  }
}

/** The socket as the host sees it: canonical, under /run/containerd, resolved under the context root. */
function socketPath(args: Args, ctx: ModuleContext): string {
  const address = args.address ?? DEFAULT_CONTAINERD_ADDRESS;
  const problem = pathProblem(address);
  if (problem !== null || !pathAllowed(address, CONTAINERD_SOCKET_PATHS)) {
    throw new BallastError(
      'BALLAST_ERR_UNSAFE_PATH',
      `failed to import image ${args.ref}: containerd address ${JSON.stringify(address.slice(0, 256))} ${problem ?? `is not under ${describeRules(CONTAINERD_SOCKET_PATHS)}`}`,
      { path: '/args/address' },
    );
  }
  return hostPath(ctx, address);
}

/** True when a unix socket is at `path` (a stale socket file is caught by ctr's dial). */
async function containerdListening(path: string): Promise<boolean> {
  const stat = await lstatOrNull(path);
  return stat?.isSocket() === true;
}

function short(id: string): string {
  return `${id.slice(0, 19)}…`;
}

function diff(ctx: ModuleContext, args: Args, before: string | null): Pick<ModuleOutcome, 'diff'> {
  return ctx.diff ? { diff: `${args.ref}: ${before ?? '(absent)'} → ${args.id}\n` } : {};
}
