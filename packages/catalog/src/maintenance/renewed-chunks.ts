import { mapLimit, type Hash } from '@armillaria/core';
import type { ChunkStat, ChunkStore } from '@armillaria/chunk-store';

/** Chunks one list request returns (S3's page; the fs store has no pages, where both ways are cheap). */
const LIST_PAGE = 1000;

/** Where a delete batch came from in the sweep's listing: after `startAfter`, `listed` chunks in all. */
export interface SweptRange {
  startAfter: Hash | undefined;
  listed: number;
}

/**
 * The chunks of a delete batch (in hash order) whose `modifiedAt` has reached `cutoff` since the sweep
 * listed them: a writer deduplicated onto them (ObjectChunkStore touches reused chunks) and will reference
 * them, so they must not be deleted. Current times come from listing the batch's hash range again or from
 * one stat per chunk, whichever takes fewer requests: with much garbage a few list pages replace a
 * thousand HEADs; with sparse garbage the stats are fewer. A chunk gone meanwhile is not renewed.
 */
export async function renewedChunks(chunks: ChunkStore, batch: readonly ChunkStat[], range: SweptRange, cutoff: number, concurrency: number): Promise<Set<Hash>> {
  const renewed = new Set<Hash>();
  if (batch.length === 0) return renewed;
  if (Math.ceil(range.listed / LIST_PAGE) <= Math.ceil(batch.length / concurrency)) {
    const wanted = new Set(batch.map((c) => c.hash));
    const last = batch[batch.length - 1]!.hash;
    for await (const c of chunks.list(range.startAfter !== undefined ? { startAfter: range.startAfter } : undefined)) {
      if (c.hash > last) break;
      if (wanted.has(c.hash) && c.modifiedAt >= cutoff) renewed.add(c.hash);
    }
    return renewed;
  }
  const current = await mapLimit(batch, concurrency, (c) => chunks.stat(c.hash));
  batch.forEach((c, i) => {
    if ((current[i]?.modifiedAt ?? -Infinity) >= cutoff) renewed.add(c.hash);
  });
  return renewed;
}
