/** The mirror's index: one row per artifact file (table `artifacts`, migration 2; image columns, migration 7). */
import type { ArtifactRef } from '../../../shared/src/artifacts-api.js';
import type { ImageInfo } from '../../../shared/src/images.js';
import type { Database } from '../store/db.js';

/** One artifact as stored; `importedAt` is ms since the epoch, `file` the name in the mirror. */
export interface ArtifactRecord {
  name: string;
  version: string;
  os: string;
  arch: string;
  sha256: string;
  size: number;
  url: string;
  file: string;
  importedAt: number;
  /** Set for container images: the reference they are imported under and their image ID. */
  image?: ImageInfo;
}

interface ArtifactRow {
  name: string;
  version: string;
  os: string;
  arch: string;
  sha256: string;
  size: number;
  url: string;
  file: string;
  imported_at: number;
  image_ref: string | null;
  image_id: string | null;
}

function fromRow(row: ArtifactRow): ArtifactRecord {
  const { imported_at, image_ref, image_id, ...rest } = row;
  const record: ArtifactRecord = { ...rest, importedAt: imported_at };
  if (image_ref !== null && image_id !== null) record.image = { ref: image_ref, id: image_id };
  return record;
}

/** Reads and writes `artifacts`. Writes of one import go through {@link ArtifactRepo.putAll} in one transaction. */
export class ArtifactRepo {
  readonly #db: Database;
  readonly #get;
  readonly #list;
  readonly #upsert;

  constructor(db: Database) {
    this.#db = db;
    this.#get = db.prepare<[string, string, string], ArtifactRow>('SELECT * FROM artifacts WHERE name = ? AND version = ? AND arch = ?');
    this.#list = db.prepare<[], ArtifactRow>('SELECT * FROM artifacts ORDER BY name, version, arch');
    // Replace: the mirror only re-puts a key whose file it has just (re)placed with the same sha256.
    this.#upsert = db.prepare<[Omit<ArtifactRecord, 'image'> & { imageRef: string | null; imageId: string | null }]>(
      `INSERT INTO artifacts (name, version, os, arch, sha256, size, url, file, imported_at, image_ref, image_id)
       VALUES (@name, @version, @os, @arch, @sha256, @size, @url, @file, @importedAt, @imageRef, @imageId)
       ON CONFLICT (name, version, arch) DO UPDATE SET
         os = excluded.os, sha256 = excluded.sha256, size = excluded.size, url = excluded.url,
         file = excluded.file, imported_at = excluded.imported_at,
         image_ref = excluded.image_ref, image_id = excluded.image_id`,
    );
  }

  /** The artifact with this name, version and arch, or null. */
  get(ref: ArtifactRef): ArtifactRecord | null {
    const row = this.#get.get(ref.name, ref.version, ref.arch);
    return row === undefined ? null : fromRow(row);
  }

  /** Every artifact, by name, version, arch. */
  list(): ArtifactRecord[] {
    return this.#list.all().map(fromRow);
  }

  /** Inserts or replaces all records atomically. */
  putAll(records: readonly ArtifactRecord[]): void {
    this.#db.transaction(() => {
      for (const { image, ...r } of records) this.#upsert.run({ ...r, imageRef: image?.ref ?? null, imageId: image?.id ?? null });
    })();
  }
}
