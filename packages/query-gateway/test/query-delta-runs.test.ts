// SQL over a keyed table whose delta has several sorted runs (formatVersion 4): a key's row in the newest
// run holding it is the one a view shows, however stats pruning picked the files. Seeded edits (whole-row
// and column-level upserts, inserts, deletes, re-inserts) against a model, every query with and without a
// non-key filter, then through the compacted file.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryEngine } from '../src/index.js';
import { embeddedEnv, rng, type Env } from './helpers.js';

type Row = { id: bigint; v: number; name: string };

/** Seeded scenarios (ARMILLARIA_RUNS_SQL_SEEDS, default 1: seed 11; more seeds run 12, 13, ...). */
const SEEDS = Number(process.env.ARMILLARIA_RUNS_SQL_SEEDS ?? 1);

for (let seed = 11; seed < 11 + SEEDS; seed++) describe(`QueryEngine over a delta of several runs (seed ${seed})`, () => {
  let env: Env;
  let engine: QueryEngine;
  const N = 3000;
  const model = new Map<number, Row>();
  let maxRuns = 0;
  let partialRuns = 0;
  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    await env.catalog.createRepo('r');
    for (let i = 0; i < N; i++) model.set(i, { id: BigInt(i), v: i % 50, name: `n${i}` });
    await env.catalog.createTable('r', 'items', { rows: [...model.values()], primaryKey: ['id'] });
    const rand = rng(seed);
    // Keys past the base (N..N+399) are inserted, overwritten, deleted and inserted again across runs:
    // their rows exist in the delta only, so an older run's row of such a key must give way to a newer one.
    const key = (): number => (rand() < 0.3 ? N + Math.floor(rand() * 400) : Math.floor(rand() * N));
    for (let step = 0; step < 40; step++) {
      const ids = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 12) }, key))];
      const op = rand();
      if (op < 0.25) {
        // Column-level: only v changes, the name stays (rows of base keys keep it as a base value).
        const rows = ids.filter((id) => model.has(id)).map((id) => ({ ...model.get(id)!, v: 1000 + step }));
        if (rows.length === 0) continue;
        await env.catalog.upsert('r', 'items', rows);
        for (const r of rows) model.set(Number(r.id), r);
      } else if (op < 0.7) {
        // Whole rows; small v (under 10) for keys past the base, so a later large v must hide it.
        const rows = ids.map((id) => ({ id: BigInt(id), v: id >= N ? step % 10 : 100 + step, name: `s${step}-${id}` }));
        await env.catalog.upsert('r', 'items', rows);
        for (const r of rows) model.set(Number(r.id), r);
      } else {
        await env.catalog.deleteRows('r', 'items', ids.map((id) => ({ id: BigInt(id) })));
        for (const id of ids) model.delete(id);
      }
      const tv = await env.catalog.tableVersion('r', 'items');
      const m = await env.format.readManifest(tv.manifest);
      maxRuns = Math.max(maxRuns, m.delta?.runs?.length ?? (m.delta ? 1 : 0));
      const layout = await env.format.layout(tv.manifest);
      if (layout.delta?.runStarts && layout.delta.unchangedColumn) partialRuns++;
    }
    // A key far past the rest, first with a small v, then (a few edits later, in a newer run whose file
    // holds only large values) a large one: a filter on small values prunes the newer file by its stats,
    // yet it must be read to hide the older row.
    const far = { id: BigInt(N + 1000), v: 1, name: 'far' };
    await env.catalog.upsert('r', 'items', [far]);
    for (let k = 0; k < 3; k++) await env.catalog.upsert('r', 'items', [{ id: BigInt(k * 7), v: 2000 + k, name: 'x' }, { id: BigInt(k * 7 + 1), v: 2000 + k, name: 'x' }]);
    await env.catalog.upsert('r', 'items', [{ ...far, v: 5000 }]);
    model.set(N + 1000, { ...far, v: 5000 });
    for (let k = 0; k < 3; k++) for (const id of [k * 7, k * 7 + 1]) model.set(id, { id: BigInt(id), v: 2000 + k, name: 'x' });
    engine = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'no-compaction'), threads: 1, compaction: false });
  });
  afterAll(async () => {
    await engine?.close();
    await env?.cleanup();
  });

  const want = (keep: (r: Row) => boolean) => {
    const rows = [...model.values()].filter(keep);
    return { n: rows.length, s: rows.reduce((a, r) => a + r.v, 0) };
  };

  it('builds a delta of several runs with column-level rows', () => {
    expect(maxRuns).toBeGreaterThanOrEqual(3);
    expect(partialRuns).toBeGreaterThan(0);
  });

  it('full scans, key ranges and non-key filters see only the newest row of each key', async () => {
    const all = await engine.query('r', 'SELECT count(*) AS n, sum(v) AS s FROM items');
    expect(all.rows).toEqual([want(() => true)]);
    const rows = await engine.query('r', 'SELECT id, v, name FROM items ORDER BY id');
    expect(rows.rows).toEqual([...model.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => ({ id: Number(r.id), v: r.v, name: r.name })));
    // Keys past the base: an old run's small v must not show when a newer run changed or deleted the key.
    const small = await engine.query('r', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE v < 10 AND id >= ${N}`);
    expect(small.rows).toEqual([want((r) => r.v < 10 && r.id >= BigInt(N))]);
    const farSmall = await engine.query('r', `SELECT count(*) AS n FROM items WHERE v < 10 AND id > ${N + 900}`);
    expect(farSmall.rows).toEqual([{ n: 0 }]);
    const r = rng(3);
    for (let i = 0; i < 30; i++) {
      const lo = Math.floor(r() * (N + 450)) - 20;
      const hi = lo + Math.floor(r() * 500);
      const byKey = await engine.query('r', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE id BETWEEN ${lo} AND ${hi}`);
      expect(byKey.rows, `${lo}..${hi}`).toEqual([want((x) => x.id >= BigInt(lo) && x.id <= BigInt(hi))]);
      const vlo = Math.floor(r() * 1100);
      const byValue = await engine.query('r', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE id BETWEEN ${lo} AND ${hi} AND v BETWEEN ${vlo} AND ${vlo + 60}`);
      expect(byValue.rows, `${lo}..${hi} v ${vlo}..`).toEqual([want((x) => x.id >= BigInt(lo) && x.id <= BigInt(hi) && x.v >= vlo && x.v <= vlo + 60)]);
    }
  });

  it('the compacted file holds the same rows', async () => {
    const compacting = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'compaction'), threads: 1 });
    try {
      const sql = 'SELECT count(*) AS n, sum(v) AS s FROM items';
      expect((await compacting.query('r', sql)).rows).toEqual([want(() => true)]);
      await compacting.idle();
      const again = await compacting.query('r', sql);
      expect(again.tables[0]!.compacted).toBe(true);
      expect(again.rows).toEqual([want(() => true)]);
      const small = await compacting.query('r', `SELECT count(*) AS n, coalesce(sum(v), 0) AS s FROM items WHERE v < 10 AND id >= ${N}`);
      expect(small.rows).toEqual([want((x) => x.v < 10 && x.id >= BigInt(N))]);
    } finally {
      await compacting.close();
    }
  });
});
