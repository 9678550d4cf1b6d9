/** Reading a versions catalogue file for `artifacts fetch --catalogue` and `artifacts bundle --catalogue`. */
import { readFile } from 'node:fs/promises';
import type { Catalogue } from '../../../shared/src/artifacts-api.js';
import { isBallastError } from '../../../shared/src/errors.js';
import { parseCatalogue } from '../../../controller/src/artifacts/manifest.js';
import { usageError } from '../errors.js';

/** Parses and validates the catalogue at `path`; any problem is a usage error (exit 2) naming the file and the entry. */
export async function readCatalogue(path: string): Promise<Catalogue> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read catalogue ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseCatalogue(text, path);
  } catch (err) {
    if (isBallastError(err)) throw usageError(err.message);
    throw err;
  }
}
