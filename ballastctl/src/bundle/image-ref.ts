/**
 * Image references as `docker pull` reads them: `[registry/]repository[:tag][@sha256:digest]`.
 * A first segment with a dot or a colon, or `localhost`, is a registry; anything else is Docker
 * Hub (`busybox` is `registry-1.docker.io/library/busybox:latest`).
 */
import { BallastError } from '../../../shared/src/errors.js';

/** A parsed image reference. */
export interface ImageRef {
  /** Host[:port] the distribution API is spoken to. */
  registry: string;
  /** Repository path, e.g. `coredns/coredns`. */
  repository: string;
  tag: string;
  /** `sha256:<hex>` when the reference pins one. */
  digest?: string;
  /** The reference as written in RepoTags: `registry/repository:tag`. */
  canonical: string;
}

const DOCKER_HUB = 'registry-1.docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

/** Parses `text`; throws BALLAST_ERR_VALIDATION naming what is wrong. */
export function parseImageRef(text: string): ImageRef {
  const bad = (why: string) => new BallastError('BALLAST_ERR_VALIDATION', `failed to read image reference "${text}": ${why}`);
  if (text.length === 0 || text.length > 512) throw bad('it must be 1 to 512 characters');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('the digest must be sha256:<64 hex digits>');
  }
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  const hasRegistry = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? rest.slice(slash + 1) : rest;
  let tag = 'latest';
  const colon = path.lastIndexOf(':');
  if (colon !== -1) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  if (!HOST.test(registry)) throw bad(`"${registry}" is not a registry host`);
  if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  if (!hasRegistry && !path.includes('/')) path = `library/${path}`;
  if (path === '' || !path.split('/').every((c) => COMPONENT.test(c))) throw bad(`"${path}" is not a valid repository path`);
  const shown = registry === DOCKER_HUB ? 'docker.io' : registry;
  return { registry, repository: path, tag, ...(digest === undefined ? {} : { digest }), canonical: `${shown}/${path}:${tag}` };
}

/** The bundle entry name of an image: `image-` and the last repository segment (`image-coredns`). */
export function imageEntryName(ref: ImageRef): string {
  return `image-${ref.repository.split('/').pop() ?? ref.repository}`;
}
