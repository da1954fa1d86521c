import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode, chunkKey } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '../src/index.js';

/** A memory object store counting gets. */
class CountingObjects extends MemoryObjectStore {
  gets = 0;
  override async get(...args: Parameters<MemoryObjectStore['get']>): ReturnType<MemoryObjectStore['get']> {
    this.gets++;
    return super.get(...args);
  }
}

async function cached(readCacheBytes: number) {
  const objects = new CountingObjects();
  return { objects, store: new ObjectChunkStore({ objects, hasher: await loadHasher(), readCacheBytes }) };
}

describe('ObjectChunkStore read cache (readCacheBytes)', () => {
  it('serves repeated gets and just-written chunks from memory, as copies', async () => {
    const { objects, store } = await cached(1 << 20);
    const a = randomBytes(1000);
    const ha = await store.put(a);
    a[0] = a[0]! ^ 0xff; // the caller's buffer changes after the put: the cache kept its own copy
    const got = await store.get(ha);
    expect(objects.gets).toBe(0);
    expect(Buffer.from(got).equals(Buffer.from(a))).toBe(false);
    got[1] = got[1]! ^ 0xff; // a reader modifying what it got does not change the next read
    const again = await store.get(ha);
    expect(store.hasher.hash(again)).toBe(ha);

    // A chunk written by another process: read once from storage, then from memory (getBatch too).
    const b = randomBytes(2000);
    const hb = store.hasher.hash(b);
    await objects.put(chunkKey(hb), b);
    expect(Buffer.from(await store.get(hb)).equals(b)).toBe(true);
    expect(objects.gets).toBe(1);
    const batch = await store.getBatch([hb, ha, hb]);
    expect(objects.gets).toBe(1);
    expect(batch.map((x) => store.hasher.hash(x))).toEqual([hb, ha, hb]);
  });

  it('keeps the good bytes when storage is corrupted later; skipCache and verify read storage', async () => {
    const { objects, store } = await cached(1 << 20);
    const data = randomBytes(5000);
    const hash = await store.put(data);
    const bad = Buffer.from(data);
    bad[7] = bad[7]! ^ 1;
    await objects.put(chunkKey(hash), bad);
    expect(Buffer.from(await store.get(hash)).equals(data)).toBe(true);
    await expect(store.get(hash, { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
    await expect(store.getBatch([hash], { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
    // Unverified reads are not cached: a later verified read still checks storage.
    const other = randomBytes(300);
    const ho = store.hasher.hash(other);
    const wrong = Buffer.from(other);
    wrong[0] = wrong[0]! ^ 1;
    await objects.put(chunkKey(ho), wrong);
    expect(Buffer.from(await store.get(ho, { verify: false })).equals(wrong)).toBe(true);
    await expect(store.get(ho)).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
  });

  it('forgets deleted chunks, stays within its budget, and is off by default', async () => {
    const { objects, store } = await cached(40_000);
    const hashes = await store.putBatch(Array.from({ length: 8 }, () => randomBytes(9_000)));
    // 8 x 9,000 bytes > 40,000: the oldest were evicted; the newest read from memory.
    const before = objects.gets;
    await store.get(hashes[7]!);
    expect(objects.gets).toBe(before);
    await store.get(hashes[0]!);
    expect(objects.gets).toBe(before + 1);
    await store.delete([hashes[7]!]);
    await expect(store.get(hashes[7]!)).rejects.toMatchObject({ code: ErrorCode.ChunkNotFound });
    // A chunk over a quarter of the budget is never kept.
    const big = await store.put(randomBytes(20_000));
    const n = objects.gets;
    await store.get(big);
    await store.get(big);
    expect(objects.gets).toBe(n + 2);

    const plain = await cached(0);
    const h = await plain.store.put(randomBytes(100));
    await plain.store.get(h);
    expect(plain.objects.gets).toBe(1);
    await expect(cached(-1)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
