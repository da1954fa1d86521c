import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChunkStore } from '@armillaria/chunk-store';
import type { Hash } from '@armillaria/core';
import { QueryEngine } from '../src/index.js';
import { embeddedEnv, errorOf, rng, type Env } from './helpers.js';

/** Pruning on floats, negatives and nulls against a plain-array model; concurrency; the deadline covers fetching. */
describe('QueryEngine: model checks, concurrency, deadlines', () => {
  let env: Env;
  const N = 4000;
  const model: Array<{ id: number; price: number | null; tag: string | null }> = [];
  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 128 });
    await env.catalog.createRepo('m');
    const r = rng(7);
    for (let i = 0; i < N; i++) {
      // Prices rise with the key (so chunks have narrow ranges) but with noise, negatives and some nulls.
      const price = r() < 0.05 ? null : Math.round((i - 1000 + (r() - 0.5) * 50) * 100) / 100;
      model.push({ id: i - 2000, price, tag: r() < 0.1 ? null : `t${String(Math.floor(i / 10)).padStart(4, '0')}` });
    }
    await env.catalog.createTable('m', 'items', { rows: model.map((m) => ({ id: BigInt(m.id), price: m.price, tag: m.tag })), primaryKey: ['id'], schema: { fields: [{ name: 'id', type: 'int64' }, { name: 'price', type: 'float64', nullable: true }, { name: 'tag', type: 'utf8', nullable: true }] } });
  });
  afterAll(async () => env?.cleanup());

  it('pruned answers equal a plain-array model (seeded ranges on int64, float64 with nulls, utf8 with nulls)', async () => {
    const r = rng(99);
    let pruned = 0;
    for (let i = 0; i < 60; i++) {
      const a = Math.round((r() * N - 2500) * 100) / 100;
      const b = Math.round((a + r() * 200) * 100) / 100;
      const ta = `t${String(Math.floor(r() * 400)).padStart(4, '0')}`;
      const cases: Array<[string, (m: (typeof model)[number]) => boolean]> = [
        [`price BETWEEN ${a} AND ${b}`, (m) => m.price !== null && m.price >= a && m.price <= b],
        [`price > ${a} AND id < ${Math.floor(b)}`, (m) => m.price !== null && m.price > a && m.id < Math.floor(b)],
        [`id >= ${Math.floor(a)} AND id <= ${Math.floor(b)}`, (m) => m.id >= Math.floor(a) && m.id <= Math.floor(b)],
        [`tag = '${ta}'`, (m) => m.tag === ta],
        [`tag >= '${ta}' AND tag < '${ta}5'`, (m) => m.tag !== null && m.tag >= ta && m.tag < `${ta}5`],
        [`price < ${a}`, (m) => m.price !== null && m.price < a],
      ];
      const [where, pred] = cases[i % cases.length]!;
      const res = await env.engine.query('m', `SELECT count(*) AS n, coalesce(sum(id), 0) AS s FROM items WHERE ${where}`);
      const want = model.filter(pred);
      expect(res.rows, where).toEqual([{ n: want.length, s: want.reduce((x, m) => x + m.id, 0) }]);
      if (res.tables[0]!.chunksRead < res.tables[0]!.chunks) pruned++;
    }
    expect(pruned).toBeGreaterThan(30);
  });

  it('concurrent queries at different versions each see their own snapshot', async () => {
    await env.catalog.createTable('m', 'counter', { rows: [{ k: 1n, v: 0n }], primaryKey: ['k'] });
    for (let v = 1; v <= 5; v++) await env.catalog.upsert('m', 'counter', [{ k: 1n, v: BigInt(v) }]);
    const results = await Promise.all(Array.from({ length: 18 }, (_, i) => {
      const version = (i % 6) + 1;
      return env.engine.query('m', 'SELECT v FROM counter', { versions: { counter: version } }).then((r) => [version, r.rows[0]!.v] as const);
    }));
    for (const [version, v] of results) expect(v).toBe(version - 1);
  });

  it('compaction: later scans keeping most rows read one compacted file per version, with the same answers', async () => {
    const engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'compact-cache'), threads: 1, compaction: { minChunks: 4 } });
    try {
      const sql = 'SELECT count(*) AS n, sum(id) AS s, count(price) AS p, min(tag) AS t FROM items';
      const first = await engine.query('m', sql);
      expect(first.tables[0]!.compacted).toBe(false);
      await engine.idle();
      const second = await engine.query('m', sql);
      expect(second.tables[0]!.compacted).toBe(true);
      expect(second.rows).toEqual(first.rows);
      expect(second.rows[0]).toMatchObject({ n: N, s: model.reduce((x, m) => x + m.id, 0) });
      const pruned = await engine.query('m', 'SELECT count(*) AS n FROM items WHERE id < -1990');
      expect(pruned.tables[0]!.compacted).toBe(false);
      expect(pruned.rows).toEqual([{ n: 10 }]);
      // Keeping most chunks, the compacted file is read (DuckDB prunes its row groups) with the same answer.
      const most = await engine.query('m', 'SELECT count(*) AS n, sum(id) AS s FROM items WHERE id >= -1500');
      expect(most.tables[0]!.chunksRead).toBeLessThan(most.tables[0]!.chunks);
      expect(most.tables[0]!.compacted).toBe(true);
      const want = model.filter((m) => m.id >= -1500);
      expect(most.rows).toEqual([{ n: want.length, s: want.reduce((x, m) => x + m.id, 0) }]);
      // Another version gets its own file; the old one stays valid for the old version.
      await env.catalog.upsert('m', 'items', [{ id: 5000n, price: 1, tag: 'new' }]);
      await engine.query('m', sql);
      await engine.idle();
      expect((await engine.query('m', sql)).rows[0]).toMatchObject({ n: N + 1 });
      expect((await engine.query('m', sql, { versions: { items: 1 } })).rows).toEqual(first.rows);
    } finally {
      await engine.close();
    }
  });

  it('the time limit covers fetching chunks: a stalled chunk store gives QUERY_TIMEOUT', async () => {
    const stalled: ChunkStore = Object.create(env.chunks) as ChunkStore;
    stalled.get = (_hash: Hash, opts?: { signal?: AbortSignal }) => new Promise<Uint8Array>((_resolve, reject) => {
      opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason), { once: true });
    });
    const engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: stalled, cacheDir: join(env.dir, 'stalled-cache'), threads: 1 });
    try {
      expect((await errorOf(engine.query('m', 'SELECT count(*) FROM items', { timeoutMs: 200 }))).code).toBe('QUERY_TIMEOUT');
    } finally {
      await engine.close();
    }
  });
});
