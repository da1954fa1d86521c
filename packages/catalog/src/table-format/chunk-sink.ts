import type { Hash } from '@armillaria/core';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { HashMismatchError } from '@armillaria/core';

export interface StoreResult {
  hashes: Hash[];
  /** How many of the blobs were new to the store, and their bytes. */
  written: number;
  bytesWritten: number;
}

/**
 * Stores blobs, uploading only those the store lacks, and says how many were new: chunk reuse is
 * measured against the store, so an identical table written under another name costs nothing.
 */
export async function storeBlobs(chunks: ChunkStore, hasher: Hasher, blobs: readonly Uint8Array[]): Promise<StoreResult> {
  if (blobs.length === 0) return { hashes: [], written: 0, bytesWritten: 0 };
  const hashes = await hasher.hashMany(blobs);
  const missing = new Set(await chunks.missing(hashes));
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
  const stored = await chunks.putBatch(todo);
  stored.forEach((h, i) => {
    if (h !== todoHashes[i]) throw new HashMismatchError(todoHashes[i]!, h);
  });
  return { hashes, written: todo.length, bytesWritten };
}
