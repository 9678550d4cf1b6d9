/**
 * Container images as mirror artifacts (issue 11: Kubernetes without a registry). An image is an
 * ordinary artifact whose file is a docker-archive tarball (`docker save` layout: manifest.json,
 * `<config digest>.json`, `<layer>/layer.tar`), named `image-<last path segment of the repository>`
 * with the tag as its version, plus the reference it is imported under and its image ID:
 *
 *   name: image-kube-apiserver   version: v1.36.3   file: images/kube-apiserver_v1.36.3.tar
 *   image: { ref: registry.k8s.io/kube-apiserver:v1.36.3, id: sha256:<config digest> }
 *
 * The ID is the sha256 of the image's config blob — what `crictl images` shows as IMAGE ID and what
 * containerd keeps whatever manifest it builds on import — so it is the identity the agent checks.
 * One definition here for the bundle schema, the agent's `image` module and the controller's role.
 */
import { Type } from '@sinclair/typebox';

/**
 * An image reference with a registry host, a repository path and a tag — never a digest reference
 * and never a short name, so what is imported is exactly what kubeadm and containerd ask for.
 */
export const IMAGE_REF_PATTERN = '^[a-z0-9][a-z0-9.-]{0,252}(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]{0,127}){1,8}:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$';
/** An image ID: the config blob's digest. */
export const IMAGE_ID_PATTERN = '^sha256:[0-9a-f]{64}$';
/** Longest accepted image reference (Docker's limit on a name is 255). */
export const MAX_IMAGE_REF = 255;

/** `registry.k8s.io/kube-apiserver:v1.36.3`. */
export const ImageRefSchema = Type.String({ pattern: IMAGE_REF_PATTERN, maxLength: MAX_IMAGE_REF });
/** `sha256:<64 hex>`. */
export const ImageIdSchema = Type.String({ pattern: IMAGE_ID_PATTERN });

/** The `image` field of an artifact entry: which reference the archive carries and its image ID. */
export const ImageInfoSchema = Type.Object({ ref: ImageRefSchema, id: ImageIdSchema }, { additionalProperties: false });

/** An image artifact's identity. */
export interface ImageInfo {
  /** The reference the archive is tagged with and imported under. */
  ref: string;
  /** `sha256:` + the config blob's digest. */
  id: string;
}

/** The parts of a tagged reference. */
export interface ParsedImageRef {
  /** Everything before the tag: `registry.k8s.io/kube-apiserver`. */
  repository: string;
  /** The last path segment of the repository: `kube-apiserver`. */
  shortName: string;
  tag: string;
}

/** Splits a reference that matches {@link IMAGE_REF_PATTERN}; null otherwise. */
export function parseImageRef(ref: string): ParsedImageRef | null {
  if (ref.length > MAX_IMAGE_REF || !new RegExp(IMAGE_REF_PATTERN).test(ref)) return null;
  // The tag follows the last colon; a registry port's colon comes before the first slash.
  const colon = ref.lastIndexOf(':');
  const repository = ref.slice(0, colon);
  return { repository, shortName: repository.slice(repository.lastIndexOf('/') + 1), tag: ref.slice(colon + 1) };
}

/** The artifact name of an image: `image-` + the repository's last segment (`image-pause`). */
export function imageArtifactName(ref: string): string | null {
  const parsed = parseImageRef(ref);
  return parsed === null ? null : `image-${parsed.shortName}`;
}

/**
 * Why an artifact entry's name and version do not fit its image reference, or null when they do:
 * the mirror is keyed by name and version, and roles pick images by them, so an entry named
 * `image-kube-apiserver` must carry a kube-apiserver reference with that tag.
 */
export function imageEntryProblem(entry: { name: string; version: string; image: ImageInfo }): string | null {
  const parsed = parseImageRef(entry.image.ref);
  if (parsed === null) return `image.ref ${JSON.stringify(entry.image.ref.slice(0, 64))} is not a tagged reference (registry/repository:tag)`;
  if (entry.name !== `image-${parsed.shortName}`) return `an image of ${parsed.repository} must be named image-${parsed.shortName}, not ${entry.name}`;
  if (entry.version !== parsed.tag) return `the version of ${entry.name} must be its tag ${parsed.tag}, not ${entry.version}`;
  return null;
}
