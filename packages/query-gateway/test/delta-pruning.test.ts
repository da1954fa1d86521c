// A key range over a version with a merge-on-read delta reads only the delta chunks whose keys overlap the
// base chunks it keeps (or that may hold rows in range): answers against a model, chunks read counted.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryEngine } from '../src/index.js';
import { embeddedEnv, rng, type Env } from './helpers.js';

describe('delta chunks pruned by key range', () => {
  let env: Env;
  let engine: QueryEngine;
  const N = 3000;
  const model = new Map<number, number>();
  let deltaChunks = 0;
  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    await env.catalog.createRepo('p');
    for (let i = 0; i < N; i++) model.set(i, i % 50);
    await env.catalog.createTable('p', 'items', { rows: [...model].map(([id, v]) => ({ id: BigInt(id), v })), primaryKey: ['id'] });
    // Appended keys (past the base), updates scattered over keys 2000-2999 (so the change touches many base
    // chunks and goes to the delta, not copy-on-write), two more updates and a delete near the end of the
    // base, all held in the delta (sorted by key, so its chunks cover keys from 2000 on).
    const inserts = Array.from({ length: 300 }, (_, i) => ({ id: BigInt(N + i), v: 7 }));
    const scattered = Array.from({ length: 50 }, (_, j) => ({ id: BigInt(2000 + 20 * j), v: 500 + j }));
    await env.catalog.upsert('p', 'items', [...scattered, ...inserts, { id: 2990n, v: 1000 }, { id: 2995n, v: 2000 }]);
    for (const r of scattered) model.set(Number(r.id), r.v);
    await env.catalog.deleteRows('p', 'items', [{ id: 2980n }]);
    for (const r of inserts) model.set(Number(r.id), 7);
    model.set(2990, 1000);
    model.set(2995, 2000);
    model.delete(2980);
    const tv = await env.catalog.tableVersion('p', 'items');
    deltaChunks = (await env.format.layout(tv.manifest)).delta?.chunks.length ?? 0;
    engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'no-compaction'), threads: 1, compaction: false });
  });
  afterAll(async () => {
    await engine?.close();
    await env?.cleanup();
  });

  const want = (lo: number, hi: number) => {
    const ids = [...model.keys()].filter((id) => id >= lo && id <= hi);
    return { n: ids.length, s: ids.reduce((a, id) => a + model.get(id)!, 0) };
  };

  it('a range away from every delta key reads no delta chunk; ranges over updates, deletes and inserts see them', async () => {
    expect(deltaChunks).toBeGreaterThanOrEqual(3);
    const middle = await engine.query('p', 'SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE id BETWEEN 500 AND 700');
    expect(middle.rows).toEqual([want(500, 700)]);
    const t = middle.tables[0]!;
    // Only base chunks (a handful of ~64 rows) are read: none of the delta's (`chunks` counts both).
    expect(t.chunksRead).toBeLessThanOrEqual(6);
    expect(t.chunksRead).toBeLessThan(deltaChunks + 3);
    const full = await engine.query('p', 'SELECT count(*) AS n FROM items');
    expect(full.tables[0]!.chunksRead).toBe(full.tables[0]!.chunks);
    expect(t.chunks).toBe(full.tables[0]!.chunks);
    for (const [lo, hi] of [[0, 30], [2970, 2992], [2981, 2999], [2999, 3100], [3250, 4000]] as const) {
      const r = await engine.query('p', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE id BETWEEN ${lo} AND ${hi}`);
      expect(r.rows, `${lo}..${hi}`).toEqual([want(lo, hi)]);
    }
    expect((await engine.query('p', 'SELECT v FROM items WHERE id = 2995')).rows).toEqual([{ v: 2000 }]);
    expect((await engine.query('p', 'SELECT count(*) AS n FROM items WHERE id = 2980')).rows).toEqual([{ n: 0 }]);
  });

  it('seeded key ranges (with a non-key filter too) agree with the model', async () => {
    const r = rng(5);
    for (let i = 0; i < 40; i++) {
      const lo = Math.floor(r() * (N + 400)) - 50;
      const hi = lo + Math.floor(r() * 400);
      const res = await engine.query('p', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE id >= ${lo} AND id <= ${hi}`);
      expect(res.rows, `${lo}..${hi}`).toEqual([want(lo, hi)]);
      const big = await engine.query('p', `SELECT count(*) AS n FROM items WHERE id BETWEEN ${lo} AND ${hi} AND v >= 1000`);
      expect(big.rows, `${lo}..${hi} v>=1000`).toEqual([{ n: [...model].filter(([id, v]) => id >= lo && id <= hi && v >= 1000).length }]);
    }
  });
});
