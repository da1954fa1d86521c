/**
 * A write that finds its chunk already stored (deduplication) must make that chunk count as freshly
 * written, or GC's grace period can sweep an old unreachable chunk that the writer is about to reference.
 * Checked on every backend, embedded and through the service (where `missing` decides what is not sent).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, chunkKey, sleep, type Hash } from '@armillaria/core';
import { createTestBucket, deleteTestBucket, hasService, needsServices, s3TestConfig } from '@armillaria/testkit';
import {
  FsObjectStore, MemoryObjectStore, ObjectChunkStore, RemoteChunkStore, S3ObjectStore, buildApp, loadHasher,
  type ChunkStore, type ObjectInfo, type ObjectStore,
} from '../src/index.js';

const REFRESH_MS = 500;

interface Backing {
  objects: ObjectStore;
  cleanup(): Promise<void>;
}

async function fsBacking(): Promise<Backing> {
  const dir = await mkdtemp(join(tmpdir(), 'arm-dedup-'));
  return { objects: new FsObjectStore({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function s3Backing(): Promise<Backing> {
  const s3 = s3TestConfig();
  const bucket = await createTestBucket('dedup');
  const objects = new S3ObjectStore({ endpoint: s3.endpoint, region: s3.region, bucket, ...s3.credentials });
  return { objects, cleanup: () => deleteTestBucket(bucket) };
}

const memoryBacking = async (): Promise<Backing> => ({ objects: new MemoryObjectStore(), cleanup: async () => {} });

/** `writer` dedups with a short refresh threshold; `plain` over the same objects keeps the default (10 min). */
async function open(backing: () => Promise<Backing>, viaService: boolean) {
  const hasher = await loadHasher();
  const { objects, cleanup } = await backing();
  const plain = new ObjectChunkStore({ objects, hasher });
  const local = new ObjectChunkStore({ objects, hasher, refreshAfterMs: REFRESH_MS });
  if (!viaService) return { objects, writer: local as ChunkStore, plain, cleanup };
  const app = await buildApp({ chunks: local, objects });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const writer = new RemoteChunkStore({ baseUrl: `http://127.0.0.1:${port}`, hasher });
  return { objects, writer, plain, cleanup: async () => { await app.close(); await cleanup(); } };
}

const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s.repeat(200));
/** Over 64 KiB (and not JSON, so stored as it is). */
const bigBytesOf = (s: string): Uint8Array => new TextEncoder().encode(s.repeat(30_000));

async function* streamOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes.subarray(0, 100);
  yield bytes.subarray(100);
}

function suite(name: string, backing: () => Promise<Backing>, viaService: boolean): void {
  it(`${name}: put, putBatch, missing and putStream renew an old chunk; a fresh one is left alone`, async () => {
    const { objects, writer, plain, cleanup } = await open(backing, viaService);
    try {
      // A chunk over 64 KiB is checked for before its put; a smaller one is put first (see `store`).
      const blobs = [...['put', 'batch', 'missing', 'stream', 'fresh'].map(bytesOf), bigBytesOf('big put')];
      const [a, b, c, d, f, g] = await plain.putBatch(blobs) as [Hash, Hash, Hash, Hash, Hash, Hash];
      const head = async (h: Hash): Promise<ObjectInfo> => (await objects.head(chunkKey(h)))!;
      const before = new Map<Hash, number>();
      for (const h of [a, b, c, d, f, g]) before.set(h, (await head(h)).modifiedAt);
      // Older than REFRESH_MS, and past S3's one-second LastModified resolution.
      await sleep(1100);

      expect(await writer.put(blobs[0]!)).toBe(a);
      expect(await writer.put(blobs[5]!)).toBe(g);
      expect(await writer.putBatch([blobs[1]!])).toEqual([b]);
      const absent = await plain.hasher.hash(bytesOf('never stored'));
      expect(await writer.missing([c, absent])).toEqual([absent]);
      expect(await writer.putStream(streamOf(blobs[3]!), { expectedHash: d })).toBe(d);
      for (const h of [a, b, c, d, g]) expect((await head(h)).modifiedAt, h).toBeGreaterThan(before.get(h)!);

      // Default threshold: a chunk written a second ago is a plain dedup hit (a refused put and a HEAD, no touch).
      expect(await plain.put(blobs[4]!)).toBe(f);
      expect(await plain.missing([f])).toEqual([]);
      expect((await head(f)).modifiedAt).toBe(before.get(f));
      for (const [i, h] of [a, b, c, d, f, g].entries()) expect(await writer.get(h)).toEqual(blobs[i]);
    } finally {
      await cleanup();
    }
  });
}

describe('dedup hits keep chunks fresh for GC', () => {
  suite('memory', memoryBacking, false);
  suite('local disk', fsBacking, false);
  suite('service -> local disk', fsBacking, true);
  describe.skipIf(!hasService('s3'))(`on MinIO ${needsServices('s3')}`, () => {
    suite('MinIO', s3Backing, false);
    suite('service -> MinIO', s3Backing, true);
  });

  it('stores the chunk again when it is deleted between the existence check and the touch (GC racing the write)', async () => {
    /** Deletes every object right after reporting it present: the interleaving a concurrent sweep can produce. */
    class SweptAfterHead extends MemoryObjectStore {
      override async head(key: string): Promise<ObjectInfo | undefined> {
        const info = await super.head(key);
        if (info) await this.delete(key);
        return info;
      }
    }
    const objects = new SweptAfterHead();
    const store = new ObjectChunkStore({ objects, hasher: await loadHasher(), refreshAfterMs: 0 });
    const bytes = bytesOf('raced');
    const hash = await store.put(bytes);
    expect(await store.put(bytes)).toBe(hash); // present, swept, so written again
    expect(await objects.get(chunkKey(hash))).toEqual(bytes);
    expect(await store.missing([hash])).toEqual([hash]);
  });

  it('puts a small chunk without asking first, and asks before putting a large one', async () => {
    /** Counts the calls a write makes. */
    class Counting extends MemoryObjectStore {
      calls: string[] = [];
      override async head(key: string): Promise<ObjectInfo | undefined> {
        this.calls.push('head');
        return super.head(key);
      }
      override async put(key: string, body: Uint8Array, opts?: Parameters<MemoryObjectStore['put']>[2]): ReturnType<MemoryObjectStore['put']> {
        this.calls.push('put');
        return super.put(key, body, opts);
      }
    }
    const objects = new Counting();
    const store = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const written = async (bytes: Uint8Array): Promise<string[]> => {
      objects.calls = [];
      await store.put(bytes);
      return objects.calls;
    };
    const small = bytesOf('small');
    const big = bigBytesOf('big');
    expect(await written(small)).toEqual(['put']);
    expect(await written(small)).toEqual(['put', 'head']); // refused, then found fresh: no touch
    expect(await written(big)).toEqual(['head', 'put']);
    expect(await written(big)).toEqual(['head']); // a dedup hit uploads nothing
    expect(await store.get(await store.hasher.hash(big))).toEqual(big);
  });

  it('through the service, a batch asks only about its chunks over 64 KiB', async () => {
    const hasher = await loadHasher();
    const objects = new MemoryObjectStore();
    const app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects });
    const requests: string[] = [];
    app.addHook('onRequest', async (req) => {
      requests.push(`${req.method} ${req.url.split('?')[0]}`);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const remote = new RemoteChunkStore({ baseUrl: `http://127.0.0.1:${port}`, hasher });
      const small = bytesOf('small via service');
      const big = bigBytesOf('big via service');
      await remote.putBatch([small]);
      expect(requests).toEqual(['POST /chunks/batch']);
      requests.length = 0;
      await remote.putBatch([small, big]);
      expect(requests).toEqual(['POST /chunks/missing', 'POST /chunks/batch']); // the big one was missing
      requests.length = 0;
      await remote.putBatch([big]);
      expect(requests).toEqual(['POST /chunks/missing']); // present: nothing sent
      const back = await remote.getBatch(await hasher.hashMany([small, big]));
      expect(back.map((b) => Buffer.from(b))).toEqual([small, big].map((b) => Buffer.from(b)));
    } finally {
      await app.close();
    }
  });

  it('missing through the service asks in requests of at most 2,000 hashes, answers in input order', async () => {
    const { writer, plain, cleanup } = await open(fsBacking, true);
    try {
      const stored = await plain.putBatch(Array.from({ length: 30 }, (_, i) => bytesOf(`stored ${i}`)));
      const absent = await plain.hasher.hashMany(Array.from({ length: 4500 }, (_, i) => new TextEncoder().encode(`absent ${i}`)));
      const asked = absent.flatMap((h, i) => (i % 150 === 0 ? [stored[i / 150]!, h] : [h]));
      expect(await writer.missing(asked)).toEqual(absent);
    } finally {
      await cleanup();
    }
  });

  it('rejects a bad refreshAfterMs with INVALID_ARGUMENT', async () => {
    const hasher = await loadHasher();
    for (const refreshAfterMs of [-1, Number.NaN, '5' as unknown as number]) {
      expect(() => new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher, refreshAfterMs })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
  });
});
