import { basename } from 'node:path';
import type { Armillaria } from '@armillaria/sdk';
import { Progress } from './progress.js';

/**
 * What the file's rows do to the table:
 * - `append` (default): adds them (insert-only on a keyed table: a key it holds already fails with DUPLICATE_KEY);
 * - `replace`: the file becomes the table;
 * - `upsert`: inserts them or replaces the rows with the same primary key (keyed tables);
 * - `delete`: removes the rows whose primary key appears in the file (its other columns are ignored).
 * Every mode but `delete` creates an absent table (`upsert` only given `key`).
 */
export type ImportMode = 'append' | 'replace' | 'upsert' | 'delete';

export const IMPORT_MODES: readonly ImportMode[] = ['append', 'replace', 'upsert', 'delete'];

export interface ImportOptions {
  table: string;
  key?: string[];
  format?: string;
  /** Default `append`. */
  mode?: ImportMode;
  batchRows?: number;
  /** Draw the progress bar (default true). */
  progress?: boolean;
}

export interface ImportResult {
  table: string;
  /** Rows read from the file. */
  rows: number;
  /** Rows the table holds after the import (absent when the file had no rows and nothing was committed). */
  tableRows?: number;
  /** False when the table already held exactly this (an upsert of the same rows): no new commit, `commit` is the head. */
  changed: boolean;
  commit: string | null;
  rowsPerSecond: number;
}

/**
 * Imports a file as ONE commit: batches read by DuckDB are staged in a transaction (their chunks
 * uploaded as they come) and committed together, so readers see all of the file or none of it.
 */
export async function importFile(arm: Armillaria, path: string, opts: ImportOptions): Promise<ImportResult> {
  // DuckDB (the file reader) loads with the first import, not with every command.
  const { FileReader, fileFormat } = await import('./file-reader.js');
  const reader = await FileReader.open(path, fileFormat(path, opts.format));
  try {
    const total = await reader.count();
    const progress = new Progress(`import ${opts.table}`, total);
    if (total === 0) return { table: opts.table, rows: 0, commit: null, rowsPerSecond: 0, changed: false };
    let done = 0;
    let tableRows = 0;
    const pk = opts.key?.length ? { primaryKey: opts.key } : {};
    const mode = opts.mode ?? 'append';
    const result = await arm.transaction(async (tx) => {
      for await (const batch of reader.batches(opts.batchRows)) {
        let staged;
        if (mode === 'delete') staged = await tx.deleteRows(opts.table, batch);
        else if (mode === 'upsert') staged = await tx.upsert(opts.table, batch, pk);
        else if (done === 0 && mode === 'replace') staged = await tx.writeTable(opts.table, batch, pk);
        else staged = await tx.appendRows(opts.table, batch, pk);
        tableRows = staged.rows;
        done += batch.numRows;
        progress.update(done, opts.progress !== false);
      }
      return done;
    }, { message: commitMessage(mode, basename(path), opts.table) });
    if (opts.progress !== false) progress.finish();
    return { table: opts.table, rows: result.value, commit: result.commit, rowsPerSecond: progress.rate(), tableRows, changed: result.tables.length > 0 };
  } finally {
    reader.close();
  }
}

function commitMessage(mode: ImportMode, file: string, table: string): string {
  switch (mode) {
    case 'append': return `import ${file} into ${table}`;
    case 'replace': return `replace ${table} with ${file}`;
    case 'upsert': return `upsert ${file} into ${table}`;
    case 'delete': return `delete the keys in ${file} from ${table}`;
  }
}
