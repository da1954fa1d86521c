import { ByteLru, type Hash } from '@armillaria/core';
import type { KeyRun } from './delta.js';

/**
 * Decoded key columns of chunks (and a delta chunk's tombstone flags), by chunk hash, up to a byte
 * budget. A keyed edit looks up every changed key in the chunks its keys fall in: without this, each
 * upsert of scattered keys read, verified and decoded the key column of nearly every base chunk again
 * (the same chunks, edit after edit: base chunks keep their hashes while the delta absorbs changes).
 * Chunks are immutable and named by content, so an entry never goes stale; the key also names the key
 * columns read, since two tables may store the same bytes under different primary keys.
 *
 * Eviction is least recently inserted-or-hit (a Map's order, refreshed on a hit): one edit touches each
 * chunk once, so recency within an edit does not matter, and across edits the base chunks are the
 * ones hit again.
 */
export class KeyRunCache {
  private readonly runs: ByteLru<string, KeyRun>;

  constructor(budget: number) {
    this.runs = new ByteLru(budget);
  }

  get(hash: Hash, keyColumns: readonly string[], delta: boolean): KeyRun | undefined {
    return this.runs.get(cacheKey(hash, keyColumns, delta));
  }

  set(hash: Hash, keyColumns: readonly string[], delta: boolean, run: KeyRun): void {
    this.runs.set(cacheKey(hash, keyColumns, delta), run, runBytes(run));
  }

  /** Bytes the cached runs hold (an estimate: typed arrays exactly, strings by length). */
  get bytes(): number {
    return this.runs.bytes;
  }
}

const cacheKey = (hash: Hash, keyColumns: readonly string[], delta: boolean): string => `${hash}${delta ? 'd' : 'b'}${JSON.stringify(keyColumns)}`;

/** What a run holds in memory: typed arrays by their bytes, strings at ~2 bytes a char plus a header. */
function runBytes(run: KeyRun): number {
  let bytes = 64 + (run.deleted ? run.keys.length : 0);
  for (const c of run.keys.cols) {
    const v = c.values as ArrayLike<unknown> & { byteLength?: number };
    if (typeof v.byteLength === 'number') {
      bytes += v.byteLength;
      continue;
    }
    for (let i = 0; i < v.length; i++) bytes += 32 + 2 * String(v[i]).length;
  }
  return bytes;
}
