import type { Module } from '../module.js';
import { ensureManagedFile } from '../managed-file.js';

/** `file`: exact content, atomically, with mode/owner and the managed-by header; or removal. */
export const fileModule: Module<'file'> = {
  name: 'file',
  async run(args, ctx) {
    const { contentChanged: _, ...outcome } = await ensureManagedFile(ctx, args);
    return outcome;
  },
};
