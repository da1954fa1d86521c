import { InvalidArgumentError } from '@armillaria/core';

/**
 * Content-defined chunk boundaries for keyed tables (prolly-tree style): a chunk ends after a row whose
 * key hash falls under a threshold (set so chunks average targetRows), provided the chunk has at least `minRows`; a chunk that
 * reaches `maxRows` ends there regardless. The only state is the number of rows since the last cut, so
 * chunking restarted at any old boundary continues exactly like a chunking of the whole table: an edit
 * re-chunks from the start of its chunk until a new cut lands on an old boundary, and every chunk after
 * that is unchanged (see `rechunk.ts`).
 */
export interface ChunkingParams {
  readonly targetRows: number;
  readonly minRows: number;
  readonly maxRows: number;
  /** Cut when hash < threshold. */
  readonly threshold: number;
}

/** Default target: ~64k rows, about 1-4 MiB of zstd Parquet for typical rows (measured in the benchmark). */
export const DEFAULT_TARGET_CHUNK_ROWS = 65_536;

export function chunkingParams(targetRows = DEFAULT_TARGET_CHUNK_ROWS): ChunkingParams {
  if (!Number.isInteger(targetRows) || targetRows < 2 || targetRows > 1 << 24) {
    throw new InvalidArgumentError(`targetChunkRows must be an integer in [2, 16777216], got ${targetRows}`, { details: { targetChunkRows: targetRows } });
  }
  const minRows = Math.max(1, Math.floor(targetRows / 4));
  // After minRows, a cut is a coin flip per row: expected length minRows + 1/p = targetRows.
  return { targetRows, minRows, maxRows: targetRows * 4, threshold: Math.floor(2 ** 32 / Math.max(1, targetRows - minRows)) };
}

/** Feeds rows one by one; `push` says whether a chunk ends after this row. */
export class Chunker {
  private pending = 0;
  constructor(private readonly p: ChunkingParams) {}

  push(hash: number): boolean {
    this.pending++;
    if (this.pending >= this.p.maxRows || (this.pending >= this.p.minRows && hash < this.p.threshold)) {
      this.pending = 0;
      return true;
    }
    return false;
  }

  /** Rows since the last cut: zero means the stream sits on a boundary. */
  get rowsPending(): number {
    return this.pending;
  }
}

/** Unkeyed tables: fixed-size chunks of `targetRows` (appends never touch old chunks anyway). */
export function fixedCuts(rows: number, targetRows: number): Uint32Array {
  const n = Math.ceil(rows / targetRows);
  const cuts = new Uint32Array(n);
  for (let i = 0; i < n; i++) cuts[i] = Math.min(rows, (i + 1) * targetRows);
  return cuts;
}
