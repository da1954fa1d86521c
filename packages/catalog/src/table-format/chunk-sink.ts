import type { Hash } from '@armillaria/core';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { HashMismatchError } from '@armillaria/core';

/** How many stored blobs were new to the store, and their bytes. */
export interface Tally {
  written: number;
  bytesWritten: number;
}

export interface StoreResult {
  hashes: Hash[];
  /**
   * The blobs' tally. With deferred writes the store is asked which blobs it lacks in the background, so
   * a version's data chunks, manifest pages and manifest are all asked at once (on S3, one HEAD round
   * instead of one per level); the version's result awaits the tallies once (see `sumTallies`). A
   * failure is reported there and by `DeferredWrites.settle`.
   */
  tally: Promise<Tally>;
}

/** The tally of nothing stored. */
export const noTally = (): Promise<Tally> => Promise.resolve({ written: 0, bytesWritten: 0 });

/**
 * The sum of tallies (rejects with the first failure). Like every tally it may go unawaited when the
 * operation fails elsewhere first, so it is marked handled: its failure is reported by the writes.
 */
export function sumTallies(tallies: ReadonlyArray<Promise<Tally>>): Promise<Tally> {
  const sum = Promise.all(tallies).then((all) => ({
    written: all.reduce((s, t) => s + t.written, 0),
    bytesWritten: all.reduce((s, t) => s + t.bytesWritten, 0),
  }));
  sum.catch(() => undefined);
  return sum;
}

/** Pending bytes past which `storeBlobs` waits for the writes it started (a big rewrite stays bounded). */
const MAX_DEFERRED_BYTES = 256 * 2 ** 20;

/**
 * Blob writes one change has started and not yet waited for. `storeBlobs` given one starts its upload
 * and returns at once, so a version's data chunks, manifest pages and manifest, which depend on each
 * other's hashes but not on each other being stored, are written side by side (with the catalog's tree
 * and commit) instead of in rounds: a small append wrote them in four rounds of create + fsync + link +
 * directory fsync, one after the other. Whoever made it must `settle()` it before anything names those
 * blobs (the catalog: before it indexes the commit), and on every other way out.
 *
 * Passed explicitly (ParquetTableFormat.deferringWrites) rather than through AsyncLocalStorage: on Node 20
 * using one turns on a promise hook for the whole process (an await-heavy loop ran 2.6x slower with it).
 */
export class DeferredWrites {
  private pending: Promise<void>[] = [];
  /** Hashes whose write has started: a second blob with one of them is already on its way. */
  readonly started = new Set<Hash>();
  /** Bytes of the pending writes, held in memory until they finish. */
  private bytes = 0;

  add(write: Promise<void>, bytes: number): void {
    write.catch(() => undefined); // reported by settle()
    this.pending.push(write);
    this.bytes += bytes;
  }

  get overBudget(): boolean {
    return this.bytes > MAX_DEFERRED_BYTES;
  }

  /** Waits for every write started so far (none is left running) and throws the first failure. */
  async settle(): Promise<void> {
    const pending = this.pending.splice(0);
    this.bytes = 0;
    const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** settle() on a way out that already has an error to report: waits, and keeps that error. */
  async settleQuietly(): Promise<void> {
    await this.settle().catch(() => undefined);
  }

  /** Runs `fn`, then waits for every write it started: when this returns, all of them are stored. */
  static async around<T>(fn: (writes: DeferredWrites) => Promise<T>): Promise<T> {
    const writes = new DeferredWrites();
    let value: T;
    try {
      value = await fn(writes);
    } catch (err) {
      await writes.settleQuietly();
      throw err;
    }
    await writes.settle();
    return value;
  }
}

/**
 * Stores blobs, uploading only those the store lacks, and says how many were new: chunk reuse is
 * measured against the store, so an identical table written under another name costs nothing. With
 * `writes` nothing is awaited but the hashing: asking the store and uploading run in the background.
 */
export async function storeBlobs(chunks: ChunkStore, hasher: Hasher, blobs: readonly Uint8Array[], writes?: DeferredWrites): Promise<StoreResult> {
  if (blobs.length === 0) return { hashes: [], tally: noTally() };
  const hashes = await hasher.hashMany(blobs);
  // A blob whose write this change started already is neither asked for nor counted again.
  const asked = writes ? hashes.filter((h) => !writes.started.has(h)) : hashes;
  const tallied = chunks.missing(asked).then((lacking) => {
    const missing = new Set(lacking);
    const todo: Uint8Array[] = [];
    const todoHashes: Hash[] = [];
    let bytesWritten = 0;
    hashes.forEach((h, i) => {
      if (missing.delete(h)) {
        todo.push(blobs[i]!);
        todoHashes.push(h);
        bytesWritten += blobs[i]!.byteLength;
      }
    });
    return { todo, todoHashes, tally: { written: todo.length, bytesWritten } };
  });
  const upload = tallied.then(async ({ todo, todoHashes }) => {
    if (todo.length === 0) return;
    const stored = await chunks.putBatch(todo, { knownMissing: true });
    stored.forEach((h, i) => {
      if (h !== todoHashes[i]) throw new HashMismatchError(todoHashes[i]!, h);
    });
  });
  const tally = tallied.then((t) => t.tally);
  tally.catch(() => undefined); // reported by the upload (settle()) and by whoever awaits it
  if (!writes) {
    await upload;
    return { hashes, tally };
  }
  for (const h of asked) writes.started.add(h);
  // Until the store answers, every blob counts against the budget of bytes held for pending writes.
  writes.add(upload, blobs.reduce((s, b) => s + b.byteLength, 0));
  if (writes.overBudget) await writes.settle();
  return { hashes, tally };
}
