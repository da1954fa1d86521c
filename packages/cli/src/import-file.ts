import { basename } from 'node:path';
import type { Armillaria } from '@armillaria/sdk';
import { FileReader, fileFormat } from './file-reader.js';
import { Progress } from './progress.js';

export interface ImportOptions {
  table: string;
  key?: string[];
  format?: string;
  /** Overwrite the table instead of appending to it. */
  replace?: boolean;
  batchRows?: number;
  /** Draw the progress bar (default true). */
  progress?: boolean;
}

export interface ImportResult {
  table: string;
  rows: number;
  commit: string | null;
  rowsPerSecond: number;
}

/**
 * Imports a file as ONE commit: batches read by DuckDB are staged in a transaction (their chunks
 * uploaded as they come) and committed together, so readers see all of the file or none of it.
 */
export async function importFile(arm: Armillaria, path: string, opts: ImportOptions): Promise<ImportResult> {
  const reader = await FileReader.open(path, fileFormat(path, opts.format));
  try {
    const total = await reader.count();
    const progress = new Progress(`import ${opts.table}`, total);
    if (total === 0) return { table: opts.table, rows: 0, commit: null, rowsPerSecond: 0 };
    let done = 0;
    const pk = opts.key?.length ? { primaryKey: opts.key } : {};
    const result = await arm.transaction(async (tx) => {
      for await (const batch of reader.batches(opts.batchRows)) {
        if (done === 0 && opts.replace) await tx.writeTable(opts.table, batch, pk);
        else await tx.appendRows(opts.table, batch, pk);
        done += batch.numRows;
        if (opts.progress !== false) progress.update(done);
      }
      return done;
    }, { message: `import ${basename(path)} into ${opts.table}` });
    if (opts.progress !== false) progress.finish();
    return { table: opts.table, rows: result.value, commit: result.commit, rowsPerSecond: progress.rate() };
  } finally {
    reader.close();
  }
}
