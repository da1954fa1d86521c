import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, chunkKey, type Hash } from '@armillaria/core';
import { DEFLATED_HEADER, type ChunkStore, type Hasher, type ObjectStore } from '../src/index.js';

export interface ChunkStoreFixture {
  store: ChunkStore;
  /** The object store holding the chunks (behind the server for remote stores), for fault injection. */
  objects: ObjectStore;
  hasher: Hasher;
  cleanup(): Promise<void>;
}

const collect = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
};

async function* pieces(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** The behaviour every ChunkStore must have, whatever it stores into and however it is reached. */
export function chunkStoreContract(name: string, factory: () => Promise<ChunkStoreFixture>): void {
  describe(`ChunkStore contract: ${name}`, () => {
    let fx: ChunkStoreFixture;
    beforeAll(async () => {
      fx = await factory();
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it('stores bytes under their BLAKE3 hash and reads them back', async () => {
      const data = randomBytes(100_000);
      const hash = await fx.store.put(data);
      expect(hash).toBe(fx.hasher.hash(data));
      expect(Buffer.from(await fx.store.get(hash)).equals(data)).toBe(true);
      expect(await fx.store.has(hash)).toBe(true);
      expect(await fx.store.stat(hash)).toMatchObject({ hash, size: data.length });
    });

    it('stores the empty chunk', async () => {
      const hash = await fx.store.put(new Uint8Array(0));
      expect(hash).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
      expect((await fx.store.get(hash)).byteLength).toBe(0);
    });

    it('deduplicates: the same bytes put twice are one object', async () => {
      const data = randomBytes(4096);
      const a = await fx.store.put(data);
      const before = await fx.objects.head(chunkKey(a));
      const b = await fx.store.put(Buffer.from(data));
      expect(b).toBe(a);
      expect((await fx.objects.head(chunkKey(a)))?.etag).toBe(before?.etag);
    });

    it('putBatch returns hashes in input order, duplicates included, and getBatch returns the bytes', async () => {
      const unique = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i));
      const input = [...unique, unique[3] as Buffer, unique[0] as Buffer];
      const hashes = await fx.store.putBatch(input);
      expect(hashes).toEqual(input.map((c) => fx.hasher.hash(c)));
      const back = await fx.store.getBatch(hashes);
      back.forEach((b, i) => expect(Buffer.from(b).equals(input[i] as Buffer)).toBe(true));
    });

    it('putBatch with knownMissing stores absent chunks and leaves one stored meanwhile as it was', async () => {
      const stored = randomBytes(2048);
      const hash = await fx.store.put(stored);
      const before = await fx.objects.head(chunkKey(hash));
      const fresh = randomBytes(512);
      // The caller's `missing` answer went stale: the first chunk got stored in between.
      const hashes = await fx.store.putBatch([Buffer.from(stored), fresh, fresh], { knownMissing: true });
      expect(hashes).toEqual([hash, fx.hasher.hash(fresh), fx.hasher.hash(fresh)]);
      expect((await fx.objects.head(chunkKey(hash)))?.etag).toBe(before?.etag);
      expect(Buffer.from(await fx.store.get(hashes[1]!)).equals(fresh)).toBe(true);
    });

    it('missing names exactly the absent hashes, deduplicated', async () => {
      const present = await fx.store.put(randomBytes(64));
      const absent = fx.hasher.hash(randomBytes(64));
      expect(await fx.store.missing([present, absent, absent])).toEqual([absent]);
      expect(await fx.store.missing([])).toEqual([]);
    });

    it('reports unknown chunks as CHUNK_NOT_FOUND', async () => {
      const absent = fx.hasher.hash(randomBytes(32));
      await expect(fx.store.get(absent)).rejects.toMatchObject({ code: ErrorCode.ChunkNotFound });
      await expect(fx.store.getBatch([absent])).rejects.toMatchObject({ code: ErrorCode.ChunkNotFound });
      expect(await fx.store.has(absent)).toBe(false);
      expect(await fx.store.stat(absent)).toBeUndefined();
    });

    it('rejects malformed hashes with INVALID_HASH before any I/O', async () => {
      for (const bad of ['', 'abc', 'A'.repeat(64), `../../${'a'.repeat(58)}`, `${'a'.repeat(63)}z`]) {
        await expect(fx.store.get(bad)).rejects.toMatchObject({ code: ErrorCode.InvalidHash });
        await expect(fx.store.has(bad)).rejects.toMatchObject({ code: ErrorCode.InvalidHash });
        await expect(fx.store.missing([bad])).rejects.toMatchObject({ code: ErrorCode.InvalidHash });
        await expect(fx.store.put(new Uint8Array(1), { expectedHash: bad })).rejects.toMatchObject({ code: ErrorCode.InvalidHash });
      }
    });

    it('refuses bytes that do not match the claimed hash and stores nothing', async () => {
      const data = randomBytes(2048);
      const claimed = fx.hasher.hash(randomBytes(2048));
      await expect(fx.store.put(data, { expectedHash: claimed })).rejects.toMatchObject({ code: ErrorCode.HashMismatch });
      await expect(fx.store.putStream(pieces(data, 100), { expectedHash: claimed })).rejects.toMatchObject({ code: ErrorCode.HashMismatch });
      expect(await fx.store.has(claimed)).toBe(false);
      expect(await fx.store.has(fx.hasher.hash(data))).toBe(false);
    });

    it('detects a flipped byte on read and never returns the corrupt data', async () => {
      const data = randomBytes(50_000);
      const hash = await fx.store.put(data);
      const bad = Buffer.from(data);
      bad[12_345] = (bad[12_345] as number) ^ 0x01;
      await fx.objects.put(chunkKey(hash), bad);
      // skipCache: a store keeping verified copies in memory (readCacheBytes) still holds the good bytes.
      await expect(fx.store.get(hash, { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt, message: expect.stringContaining(hash) });
      await expect(fx.store.getBatch([hash], { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
      // A stream may fail when opened (remote: the server verifies first) or when it ends; either way no
      // complete corrupt body is handed over as good.
      await expect((async () => collect(await fx.store.getStream(hash)))()).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
      // An explicit opt-out returns the raw bytes (for repair tools).
      expect(Buffer.from(await fx.store.get(hash, { verify: false })).equals(bad)).toBe(true);
    });

    it('stores JSON chunks deflated under the hash of their own bytes; every read returns those bytes', async () => {
      const json = Buffer.from(JSON.stringify({ chunks: Array.from({ length: 200 }, (_, i) => ({ hash: fx.hasher.hash(Buffer.from([i])), rows: i, stats: { min: i, max: i * 2 } })) }));
      const hash = await fx.store.put(json);
      expect(hash).toBe(fx.hasher.hash(json));
      const stored = await fx.objects.get(chunkKey(hash));
      expect(Buffer.from(stored.subarray(0, 8)).equals(Buffer.from(DEFLATED_HEADER))).toBe(true);
      expect(stored.byteLength).toBeLessThan(json.byteLength / 2);
      expect((await fx.store.stat(hash))?.size).toBe(stored.byteLength);
      const fromBatch = await fx.store.putBatch([json, Buffer.from('[1, 2, 3]')]);
      expect(fromBatch[0]).toBe(hash);
      for (const opts of [{ skipCache: true }, { skipCache: true, verify: false }]) {
        expect(Buffer.from(await fx.store.get(hash, opts)).equals(json)).toBe(true);
        expect(Buffer.from((await fx.store.getBatch([hash], opts))[0]!).equals(json)).toBe(true);
        expect((await collect(await fx.store.getStream(hash, opts))).equals(json)).toBe(true);
      }
      // Bytes that begin with the header themselves are always stored deflated: reads are never ambiguous.
      const lookalike = Buffer.concat([Buffer.from(DEFLATED_HEADER), randomBytes(300)]);
      const h2 = await fx.store.put(lookalike);
      expect(Buffer.from(await fx.store.get(h2, { skipCache: true })).equals(lookalike)).toBe(true);
      expect((await collect(await fx.store.getStream(h2))).equals(lookalike)).toBe(true);
      // Parquet (and other binary) chunks stay as they are: readers of a table's files find plain Parquet.
      const parquetLike = Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(4000, 0x20)]);
      const h3 = await fx.store.put(parquetLike);
      expect(Buffer.from(await fx.objects.get(chunkKey(h3))).equals(parquetLike)).toBe(true);
    });

    it('detects damage to a deflated chunk: a stored form that does not inflate, or inflates to other bytes', async () => {
      const json = Buffer.from(JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ row: i, name: `n${i % 97}` }))));
      const hash = await fx.store.put(json);
      const stored = Buffer.from(await fx.objects.get(chunkKey(hash)));
      const truncated = stored.subarray(0, stored.byteLength - 40);
      const tampered = await (async () => {
        // A valid deflate stream of other bytes, under this chunk's name.
        const other = Buffer.from(json);
        other[100] = 0x41;
        const { deflateRawSync } = await import('node:zlib');
        return Buffer.concat([Buffer.from(DEFLATED_HEADER), deflateRawSync(other)]);
      })();
      for (const bad of [truncated, tampered]) {
        await fx.objects.put(chunkKey(hash), bad);
        await expect(fx.store.get(hash, { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt, message: expect.stringContaining(hash) });
        await expect(fx.store.getBatch([hash], { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
        await expect((async () => collect(await fx.store.getStream(hash)))()).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
      }
    });

    it('detects a truncated chunk on read', async () => {
      const data = randomBytes(10_000);
      const hash = await fx.store.put(data);
      await fx.objects.put(chunkKey(hash), data.subarray(0, 5000));
      await expect(fx.store.get(hash, { skipCache: true })).rejects.toMatchObject({ code: ErrorCode.ChunkCorrupt });
    });

    it('streams large chunks in and out, with and without a claimed hash', async () => {
      const data = randomBytes(12 * 1024 * 1024 + 7);
      const expected = fx.hasher.hash(data);
      expect(await fx.store.putStream(pieces(data, 256 * 1024))).toBe(expected);
      expect((await collect(await fx.store.getStream(expected))).equals(data)).toBe(true);
      const other = randomBytes(3 * 1024 * 1024);
      const otherHash = fx.hasher.hash(other);
      expect(await fx.store.putStream(pieces(other, 100_000), { expectedHash: otherHash })).toBe(otherHash);
      expect(Buffer.from(await fx.store.get(otherHash)).equals(other)).toBe(true);
    });

    it('lists chunks in hash order and resumes after a hash', async () => {
      const hashes = await fx.store.putBatch(Array.from({ length: 30 }, () => randomBytes(16)));
      const listed: Hash[] = [];
      for await (const s of fx.store.list()) listed.push(s.hash);
      expect(listed).toEqual([...listed].sort());
      for (const h of hashes) expect(listed).toContain(h);
      const pivot = [...hashes].sort()[10] as Hash;
      const after: Hash[] = [];
      for await (const s of fx.store.list({ startAfter: pivot })) after.push(s.hash);
      expect(after.every((h) => h > pivot)).toBe(true);
      expect(after).toEqual(listed.filter((h) => h > pivot));
    });

    it('deletes chunks', async () => {
      const hash = await fx.store.put(randomBytes(100));
      await fx.store.delete([hash]);
      expect(await fx.store.has(hash)).toBe(false);
      await fx.store.delete([hash]);
    });
  });
}
