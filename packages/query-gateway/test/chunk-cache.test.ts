import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsRegistry, type Hash } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { ChunkCache } from '../src/index.js';
import { embeddedEnv, errorOf, type Env } from './helpers.js';
import { QueryEngine } from '../src/index.js';

const SIZE = 1000;

async function counter(name: string): Promise<number> {
  const m = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return m.reduce((a, v) => a + v.value, 0);
}

describe('ChunkCache: size bound, LRU eviction, pins', () => {
  let dir: string;
  let chunks: ObjectChunkStore;
  const hashes: Hash[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-cache-'));
    chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
    for (let i = 0; i < 6; i++) hashes.push(await chunks.put(new Uint8Array(SIZE).fill(i + 1)));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));
  const cached = (cache: ChunkCache, i: number): boolean => existsSync(cache.pathOf(hashes[i]!));

  it('evicts the least recently used files past the bound, by access, and counts evictions', async () => {
    const cache = new ChunkCache({ chunks, dir: join(dir, 'lru'), maxBytes: 3 * SIZE });
    const before = await counter('armillaria_query_cache_evictions_total');
    // One by one: chunks fetched together enter the LRU order as their downloads finish.
    for (const i of [0, 1, 2]) await cache.fetch([hashes[i]!]);
    expect(cache.stats()).toMatchObject({ files: 3, bytes: 3 * SIZE });
    await cache.fetch([hashes[0]!]); // a hit: 0 is now the most recently used, 1 the least
    expect((await cache.fetch([hashes[3]!])).fetched).toBe(1);
    expect([0, 1, 2, 3].map((i) => cached(cache, i))).toEqual([true, false, true, true]);
    expect(cache.stats()).toMatchObject({ files: 3, bytes: 3 * SIZE, pinned: 0 });
    expect(await counter('armillaria_query_cache_evictions_total')).toBe(before + 1);
    // An evicted chunk comes back (verified) on the next fetch.
    const again = await cache.fetch([hashes[1]!]);
    expect(again.fetched).toBe(1);
    expect(cached(cache, 1)).toBe(true);
    expect(cached(cache, 2)).toBe(false);
  });

  it('never evicts a pinned file: a lease may hold the cache past its bound until released', async () => {
    const cache = new ChunkCache({ chunks, dir: join(dir, 'pins'), maxBytes: 2 * SIZE });
    const lease = cache.lease();
    await cache.fetch([hashes[0]!, hashes[1]!], { lease });
    await cache.fetch([hashes[2]!, hashes[3]!]);
    expect(cached(cache, 0) && cached(cache, 1)).toBe(true);
    expect(cache.stats().pinned).toBe(2);
    expect(cache.stats().bytes).toBeGreaterThan(2 * SIZE);
    lease.release();
    lease.release();
    await cache.idle();
    expect(cache.stats()).toMatchObject({ bytes: 2 * SIZE, pinned: 0 });
    expect(cached(cache, 0) || cached(cache, 1)).toBe(false);
    // A lease of another cache is refused, not silently ignored.
    const other = new ChunkCache({ chunks, dir: join(dir, 'other') });
    expect((await errorOf(cache.fetch([hashes[0]!], { lease: other.lease() }))).code).toBe('INVALID_ARGUMENT');
  });

  it('adopts the files of a previous run (oldest first in line for eviction) and deletes leftover temp files', async () => {
    const d = join(dir, 'restart');
    const first = new ChunkCache({ chunks, dir: d });
    await first.fetch(hashes.slice(0, 4));
    // Make chunk 2 the oldest and 0 the second oldest on disk.
    await utimes(first.pathOf(hashes[2]!), new Date(1000), new Date(1000));
    await utimes(first.pathOf(hashes[0]!), new Date(2000), new Date(2000));
    await writeFile(join(d, `.${hashes[5]!}.123.1.tmp`), 'partial');
    await writeFile(join(d, 'unrelated.txt'), 'kept');
    const second = new ChunkCache({ chunks, dir: d, maxBytes: 2 * SIZE });
    expect((await second.fetch([hashes[1]!])).fetched).toBe(0);
    expect(second.stats()).toMatchObject({ files: 2, bytes: 2 * SIZE });
    expect([0, 1, 2, 3].map((i) => cached(second, i))).toEqual([false, true, false, true]);
    expect((await readdir(d)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(join(d, 'unrelated.txt'))).toBe(true);
  });

  it('bad bounds and file names are INVALID_ARGUMENT', async () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ChunkCache({ chunks, dir, maxBytes })).toThrow(/maxBytes/);
    }
    const cache = new ChunkCache({ chunks, dir: join(dir, 'names') });
    expect((await errorOf(cache.lookupFile('../etc/passwd'))).code).toBe('INVALID_ARGUMENT');
    expect(await cache.lookupFile(`v-${hashes[0]!}.parquet`)).toBeUndefined();
  });
});

describe('QueryEngine over a bounded cache', () => {
  let env: Env;
  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    await env.catalog.createRepo('c');
    const rows = (from: number) => Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(from + i), v: (from + i) % 7 }));
    await env.catalog.createTable('c', 'a', { rows: rows(0), primaryKey: ['id'] });
    await env.catalog.createTable('c', 'b', { rows: rows(5000), primaryKey: ['id'] });
  });
  afterAll(async () => env?.cleanup());

  it('bad cache and compaction options are INVALID_ARGUMENT at open', async () => {
    const base = { catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'bad-options'), threads: 1 };
    for (const opts of [{ cacheMaxBytes: 0 }, { cacheMaxBytes: -5 }, { compaction: { minChunks: 0 } }, { compaction: { minChunks: 2.5 } }]) {
      expect((await errorOf(QueryEngine.open({ ...base, ...opts }))).code, JSON.stringify(opts)).toBe('INVALID_ARGUMENT');
    }
  });

  it('answers stay right while tables push each other out; running queries keep their files', async () => {
    const cacheDir = join(env.dir, 'small-cache');
    const probe = await env.engine.query('c', 'SELECT count(*) AS n FROM a');
    const chunksA = probe.tables[0]!.chunks;
    expect(chunksA).toBeGreaterThan(4);
    // Room for roughly one table's chunks, compaction off (this test is about chunk files).
    const engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir, threads: 1, cacheMaxBytes: 12_000, compaction: false });
    try {
      const sumA = 'SELECT count(*) AS n, sum(id) AS s, sum(v) AS v FROM a';
      const sumB = 'SELECT count(*) AS n, sum(id) AS s, sum(v) AS v FROM b';
      const wantA = { n: 1000, s: 499500, v: Array.from({ length: 1000 }, (_, i) => i % 7).reduce((x, y) => x + y, 0) };
      const wantB = { n: 1000, s: 5499500, v: Array.from({ length: 1000 }, (_, i) => (5000 + i) % 7).reduce((x, y) => x + y, 0) };
      expect((await engine.query('c', sumA)).rows).toEqual([wantA]);
      expect((await engine.query('c', sumB)).rows).toEqual([wantB]);
      const back = await engine.query('c', sumA);
      expect(back.rows).toEqual([wantA]);
      expect(back.tables[0]!.chunksFetched).toBeGreaterThan(0);
      // Concurrent queries over both tables (and a join of both) each hold their files while they run.
      const join2 = 'SELECT count(*) AS n FROM a JOIN b ON b.id = a.id + 5000';
      const results = await Promise.all(Array.from({ length: 9 }, (_, i) => engine.query('c', [sumA, sumB, join2][i % 3]!)));
      results.forEach((r, i) => expect(r.rows).toEqual([[wantA, wantB, { n: 1000 }][i % 3]]));
      expect(engine.cache.stats().pinned).toBe(0);
      expect(engine.cache.stats().bytes).toBeLessThanOrEqual(12_000);
    } finally {
      await engine.close();
    }
  });

  it('compacted versions live in the same bound: evicted like chunks (never while read), rebuilt after the next full scan', async () => {
    const cacheDir = join(env.dir, 'compact-bounded');
    const sizing = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'sizing'), threads: 1, compaction: false });
    await sizing.query('c', 'SELECT count(*) FROM a');
    const tableBytes = sizing.cache.stats().bytes;
    await sizing.close();
    // The smallest bound under which a table is worth compacting (a quarter of it); a few tables overflow it.
    const engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir, threads: 1, cacheMaxBytes: tableBytes * 4, compaction: { minChunks: 4 } });
    try {
      const sql = 'SELECT count(*) AS n, sum(id) AS s FROM a';
      const first = await engine.query('c', sql);
      await engine.idle();
      expect((await engine.query('c', sql)).tables[0]!.compacted).toBe(true);
      const file = join(cacheDir, `v-${first.tables[0]!.manifest}.parquet`);
      expect(existsSync(file)).toBe(true);
      const evictions = await counter('armillaria_query_cache_evictions_total');
      for (let t = 0; t < 8 && existsSync(file); t++) {
        const name = `t${t}`;
        await env.catalog.createTable('c', name, { rows: Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(10_000 * (t + 1) + i), v: i })), primaryKey: ['id'] });
        await engine.query('c', `SELECT count(*) FROM ${name}`);
        await engine.idle();
        expect((await engine.query('c', `SELECT sum(v) AS s FROM ${name}`)).rows).toEqual([{ s: 499500 }]);
        expect(engine.cache.stats().bytes).toBeLessThanOrEqual(tableBytes * 4);
      }
      expect(existsSync(file)).toBe(false);
      expect(await counter('armillaria_query_cache_evictions_total')).toBeGreaterThan(evictions);
      const again = await engine.query('c', sql);
      expect(again.tables[0]!.compacted).toBe(false);
      expect(again.rows).toEqual([{ n: 1000, s: 499500 }]);
      await engine.idle();
      const rebuilt = await engine.query('c', sql);
      expect(rebuilt.tables[0]!.compacted).toBe(true);
      expect(rebuilt.rows).toEqual([{ n: 1000, s: 499500 }]);
    } finally {
      await engine.close();
    }
  });
});
