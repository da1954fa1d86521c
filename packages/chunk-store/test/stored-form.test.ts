// The stored form of chunks: plain or deflated behind a header, and stores of either setting reading both.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode, chunkKey } from '@armillaria/core';
import { DEFLATED_HEADER, MemoryObjectStore, ObjectChunkStore, loadHasher } from '../src/index.js';
import { chunkBytes, chunkStream, storedForm } from '../src/stored-form.js';

const json = (n: number): Buffer => Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: i, name: `customer-${i % 50}` }))));

async function* piecesOf(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let k = 0; at < data.byteLength; k++) {
    const size = sizes[Math.min(k, sizes.length - 1)]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

const collect = async (it: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
};

const damaged = () => new Error('damaged');

describe('stored form', () => {
  it('deflates JSON that shrinks by an eighth, keeps small, binary and incompressible chunks plain', async () => {
    const big = json(500);
    const stored = await storedForm(big, 'json');
    expect(Buffer.from(stored.subarray(0, 8)).equals(Buffer.from(DEFLATED_HEADER))).toBe(true);
    expect(Buffer.from((await chunkBytes(stored))!).equals(big)).toBe(true);
    expect(await storedForm(big, 'off')).toBe(big);
    const small = Buffer.from('{"a":1}');
    expect(await storedForm(small, 'json')).toBe(small);
    const parquet = Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(5000)]);
    expect(await storedForm(parquet, 'json')).toBe(parquet);
    // JSON-looking but random: deflate would not save an eighth.
    const noise = Buffer.concat([Buffer.from('['), randomBytes(4000)]);
    expect(await storedForm(noise, 'json')).toBe(noise);
    // Off-thread sizes take the same format.
    const huge = json(40_000);
    expect(huge.byteLength).toBeGreaterThan(256 * 1024);
    expect(Buffer.from((await chunkBytes(await storedForm(huge, 'json')))!).equals(huge)).toBe(true);
  });

  it('stores bytes that begin with the header deflated whatever the setting, so reading is never ambiguous', async () => {
    const lookalike = Buffer.concat([Buffer.from(DEFLATED_HEADER), randomBytes(64)]);
    for (const setting of ['json', 'off'] as const) {
      const stored = await storedForm(lookalike, setting);
      expect(stored).not.toBe(lookalike);
      expect(Buffer.from((await chunkBytes(stored))!).equals(lookalike)).toBe(true);
    }
    expect(await chunkBytes(Buffer.concat([Buffer.from(DEFLATED_HEADER), randomBytes(64)]))).toBeUndefined();
  });

  it('streams: a header split across pieces, tiny and empty objects, plain or deflated', async () => {
    const data = json(3000);
    const stored = await storedForm(data, 'json');
    for (const sizes of [[3, 2, 1000], [1], [8, 17], [stored.byteLength]]) {
      expect((await collect(chunkStream(piecesOf(stored, sizes), damaged))).equals(data)).toBe(true);
      expect((await collect(chunkStream(piecesOf(data, sizes), damaged))).equals(data)).toBe(true);
    }
    expect((await collect(chunkStream(piecesOf(new Uint8Array(0), [1]), damaged))).byteLength).toBe(0);
    expect((await collect(chunkStream(piecesOf(Buffer.from('{}'), [1]), damaged))).toString()).toBe('{}');
  });

  it('a damaged deflate stream fails as damage; a failing source fails with its own error', async () => {
    const stored = await storedForm(json(3000), 'json');
    await expect(collect(chunkStream(piecesOf(stored.subarray(0, stored.byteLength - 30), [100]), damaged))).rejects.toThrow('damaged');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield stored.subarray(0, 100);
      throw new Error('connection reset');
    }
    await expect(collect(chunkStream(failing(), damaged))).rejects.toThrow('connection reset');
  });

  it('a consumer may stop a deflated stream early', async () => {
    const stored = await storedForm(json(50_000), 'json');
    for await (const piece of chunkStream(piecesOf(stored, [1000]), damaged)) {
      expect(piece.byteLength).toBeGreaterThan(0);
      break;
    }
  });

  it('stores with compression on and off read each other\'s chunks', async () => {
    const hasher = await loadHasher();
    const objects = new MemoryObjectStore();
    const on = new ObjectChunkStore({ objects, hasher });
    const off = new ObjectChunkStore({ objects, hasher, compression: 'off' });
    const a = json(400);
    const b = json(401);
    const ha = await on.put(a);
    const hb = await off.put(b);
    expect((await objects.get(chunkKey(ha))).byteLength).toBeLessThan(a.byteLength);
    expect((await objects.get(chunkKey(hb))).byteLength).toBe(b.byteLength);
    expect(Buffer.from(await off.get(ha)).equals(a)).toBe(true);
    expect(Buffer.from(await on.get(hb)).equals(b)).toBe(true);
    expect(() => new ObjectChunkStore({ objects, hasher, compression: 'zstd' as 'off' })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});
