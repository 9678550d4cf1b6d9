/**
 * The artifact mirror's contract, typed once: bundle manifests, fetch catalogues and the HTTP API
 * shapes of `/v1/artifacts*`. The controller validates with these schemas, ballastctl decodes with
 * them, and `ballastctl artifacts … -o json` prints exactly these shapes.
 */
import { type Static, Type } from '@sinclair/typebox';
import { ImageInfoSchema } from './images.js';

/**
 * The patterns of the `artifact` module's arguments (shared/src/tasks/modules.ts), except that a
 * version may not start with a dot: name, version and arch are directory names in the mirror.
 */
const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' });
const Version = Type.String({ pattern: '^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,63}$' });
const Arch = Type.String({ pattern: '^[a-z0-9_]{1,16}$' });
const Os = Type.String({ pattern: '^[a-z0-9_]{1,16}$' });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Url = Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 });
/** A relative path inside a bundle: no absolute paths, and no segment may start with a dot (no `..`). */
const BundlePath = Type.String({
  pattern: '^[A-Za-z0-9_+-][A-Za-z0-9._+-]*(/[A-Za-z0-9_+-][A-Za-z0-9._+-]*)*$',
  maxLength: 255,
});
const Iso = Type.String({ description: 'RFC 3339 timestamp', maxLength: 40 });

/** The response header that carries an artifact's sha256 on downloads. */
export const ARTIFACT_SHA256_HEADER = 'x-ballast-sha256';
/** The name of the manifest inside a bundle tarball. */
export const BUNDLE_MANIFEST = 'manifest.yaml';
/** Default upper bound on an uploaded bundle: 2 GiB. */
export const DEFAULT_MAX_BUNDLE_BYTES = 2 * 1024 ** 3;

/** Identifies one artifact in the mirror; the unique key of the mirror. */
export interface ArtifactRef {
  name: string;
  version: string;
  arch: string;
}

/** One entry of a bundle's `manifest.yaml`: which file of the bundle is which artifact. */
export const ArtifactSpecSchema = Type.Object(
  {
    name: Name,
    version: Version,
    os: Os,
    arch: Arch,
    /** sha256 of `file`, lower-case hex. */
    sha256: Sha256,
    /** Where the file came from upstream (provenance; `artifacts fetch` downloads from it). */
    url: Url,
    /** Path of the file inside the bundle. */
    file: BundlePath,
    /**
     * Size of `file` in bytes. When every entry declares it, unpacking the bundle is bounded by
     * their sum (a decompression bomb stops there) and each file must have exactly this size.
     */
    size: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
    /**
     * Set when `file` is a container image (a docker-archive tarball): the reference it is imported
     * under and its image ID (shared/src/images.ts). The name must then be `image-<repository's last
     * segment>` and the version the tag.
     */
    image: Type.Optional(ImageInfoSchema),
  },
  { additionalProperties: false },
);
export type ArtifactSpec = Static<typeof ArtifactSpecSchema>;

/** `manifest.yaml`: a YAML list of artifact specs. */
export const BundleManifestSchema = Type.Array(ArtifactSpecSchema, { minItems: 1, maxItems: 1000 });
export type BundleManifest = Static<typeof BundleManifestSchema>;

/** One pinned upstream download; `file` defaults to the last segment of the URL's path. */
export const CatalogueEntrySchema = Type.Object(
  {
    name: Name,
    version: Version,
    os: Os,
    arch: Arch,
    sha256: Sha256,
    url: Url,
    file: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$', maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type CatalogueEntry = Static<typeof CatalogueEntrySchema>;

/** A versions catalogue (kubespray's checksums.yml idea): a YAML or JSON list of entries. */
export const CatalogueSchema = Type.Array(CatalogueEntrySchema, { minItems: 1, maxItems: 1000 });
export type Catalogue = Static<typeof CatalogueSchema>;

/** An artifact as the mirror holds it. */
export const ArtifactInfoSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  os: Type.String(),
  arch: Type.String(),
  sha256: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  url: Type.String(),
  /** File name in the mirror (and in the Content-Disposition of downloads). */
  file: Type.String(),
  importedAt: Iso,
  /** Present for container images (see {@link ArtifactSpecSchema}). */
  image: Type.Optional(Type.Object({ ref: Type.String(), id: Type.String() })),
});
export type ArtifactInfo = Static<typeof ArtifactInfoSchema>;

export const ArtifactListResponseSchema = Type.Object({ items: Type.Array(ArtifactInfoSchema) });
export type ArtifactListResponse = Static<typeof ArtifactListResponseSchema>;

/** What an import or fetch did to one artifact: `added` to the mirror, or already there (`unchanged`). */
export const ArtifactChangeSchema = Type.Object({
  status: Type.Union([Type.Literal('added'), Type.Literal('unchanged')]),
  artifact: ArtifactInfoSchema,
});
export type ArtifactChange = Static<typeof ArtifactChangeSchema>;

/** Result of `POST /v1/artifacts/import` and `POST /v1/artifacts/fetch`. */
export const ArtifactImportResponseSchema = Type.Object({
  added: Type.Integer({ minimum: 0 }),
  unchanged: Type.Integer({ minimum: 0 }),
  items: Type.Array(ArtifactChangeSchema),
});
export type ArtifactImportResponse = Static<typeof ArtifactImportResponseSchema>;

/** Body of `POST /v1/artifacts/fetch`; without a catalogue the controller's built-in one is used. */
export const ArtifactFetchRequestSchema = Type.Object(
  { catalogue: Type.Optional(CatalogueSchema) },
  { additionalProperties: false },
);
export type ArtifactFetchRequest = Static<typeof ArtifactFetchRequestSchema>;

/** The download path of one artifact. */
export function artifactFilePath(ref: ArtifactRef): string {
  return `/v1/artifacts/files/${encodeURIComponent(ref.name)}/${encodeURIComponent(ref.version)}/${encodeURIComponent(ref.arch)}`;
}

/** "etcd 3.4.23 (amd64)": how messages name an artifact. */
export function artifactLabel(ref: ArtifactRef): string {
  return `${ref.name} ${ref.version} (${ref.arch})`;
}

/**
 * Routes:
 *   GET  /v1/artifacts                               → ArtifactList           — viewer
 *   POST /v1/artifacts/import   <bundle tar[.gz]>    → ArtifactImportResponse — operator (audited)
 *        body: the raw tarball, Content-Type application/octet-stream | application/gzip | application/x-tar;
 *        artifacts the built-in catalogue does not pin: admin only, with manifest.yaml.sig by a trusted key
 *        (controller/src/artifacts/trust.ts, shared/src/artifacts-signature.ts)
 *   POST /v1/artifacts/fetch    ArtifactFetchRequest → ArtifactImportResponse — admin (audited); https to
 *        the controller's --artifact-upstream hosts only, public addresses only (controller/src/artifacts/upstream.ts)
 *   GET  /v1/artifacts/files/:name/:version/:arch    → the file (x-ballast-sha256, content-length)
 *        — an enrolled host's client certificate (mTLS), or an operator bearer token
 */
