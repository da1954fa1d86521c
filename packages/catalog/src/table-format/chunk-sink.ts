import { AsyncLocalStorage } from 'node:async_hooks';
import type { Hash } from '@armillaria/core';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { HashMismatchError } from '@armillaria/core';

export interface StoreResult {
  hashes: Hash[];
  /** How many of the blobs were new to the store, and their bytes. */
  written: number;
  bytesWritten: number;
}

/** Writes a table operation has started and not yet awaited (see `withDeferredWrites`). */
interface DeferredWrites {
  pending: Promise<void>[];
  /** Hashes whose write this operation started: a second blob with one of them is already on its way. */
  started: Set<Hash>;
  /** Bytes of the pending writes, held in memory until they finish. */
  bytes: number;
}

const deferred = new AsyncLocalStorage<DeferredWrites>();

/** Pending bytes past which `storeBlobs` waits for the writes it started (a big rewrite stays bounded). */
const MAX_DEFERRED_BYTES = 256 * 2 ** 20;

/**
 * Runs one table operation whose `storeBlobs` calls start their writes without waiting for them, and
 * returns (or throws) only once every write has finished, failed ones included: when it returns, all
 * the version's blobs are stored. Its data chunks, manifest pages and manifest, which depend on each
 * other's hashes but not on each other being stored, are then written side by side instead of in
 * rounds: a small append wrote them in three rounds of create + fsync + link + directory fsync, one
 * after the other. An operation that reads back blobs it wrote calls `finishDeferredWrites` first.
 * Nested calls join the outer operation.
 */
export async function withDeferredWrites<T>(fn: () => Promise<T>): Promise<T> {
  if (deferred.getStore()) return fn();
  const writes: DeferredWrites = { pending: [], started: new Set(), bytes: 0 };
  const outcome = await deferred.run(writes, fn).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const failed = await settleAll(writes);
  if (!outcome.ok) throw outcome.error;
  if (failed) throw failed.reason;
  return outcome.value;
}

/** Inside `withDeferredWrites`: waits for the writes started so far (before reading their blobs back). */
export async function finishDeferredWrites(): Promise<void> {
  const writes = deferred.getStore();
  if (!writes) return;
  const failed = await settleAll(writes);
  if (failed) throw failed.reason;
}

/** Waits for every pending write (none is left running), and returns the first failure. */
async function settleAll(writes: DeferredWrites): Promise<PromiseRejectedResult | undefined> {
  const pending = writes.pending.splice(0);
  writes.bytes = 0;
  const settled = await Promise.allSettled(pending);
  return settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
}

/**
 * Stores blobs, uploading only those the store lacks, and says how many were new: chunk reuse is
 * measured against the store, so an identical table written under another name costs nothing. Inside
 * `withDeferredWrites` the upload is started, not awaited (the counts are known once `missing` answers).
 */
export async function storeBlobs(chunks: ChunkStore, hasher: Hasher, blobs: readonly Uint8Array[]): Promise<StoreResult> {
  if (blobs.length === 0) return { hashes: [], written: 0, bytesWritten: 0 };
  const writes = deferred.getStore();
  const hashes = await hasher.hashMany(blobs);
  const missing = new Set(await chunks.missing(writes ? hashes.filter((h) => !writes.started.has(h)) : hashes));
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
  const upload = async (): Promise<void> => {
    if (todo.length === 0) return;
    const stored = await chunks.putBatch(todo, { knownMissing: true });
    stored.forEach((h, i) => {
      if (h !== todoHashes[i]) throw new HashMismatchError(todoHashes[i]!, h);
    });
  };
  if (!writes) {
    await upload();
  } else {
    for (const h of todoHashes) writes.started.add(h);
    const p = upload();
    p.catch(() => undefined); // reported by withDeferredWrites
    writes.pending.push(p);
    writes.bytes += bytesWritten;
    if (writes.bytes > MAX_DEFERRED_BYTES) {
      const failed = await settleAll(writes);
      if (failed) throw failed.reason;
    }
  }
  return { hashes, written: todo.length, bytesWritten };
}
