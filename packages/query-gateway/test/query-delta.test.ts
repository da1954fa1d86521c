// SQL over keyed tables with a merge-on-read delta: updates, deletes and inserts the delta holds are
// visible; pruning on a non-key column stays correct when a delta row moved in or out of the range;
// per-table versions read before, with and after the delta is folded into the base.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { QueryEngine } from '../src/index.js';
import { embeddedEnv, rng, type Env } from './helpers.js';

type Item = { id: bigint; price: number; tag: string };

describe('QueryEngine over tables with a delta (merge-on-read)', () => {
  let env: Env;
  const N = 3000;
  /** The model of each table version, by version number. */
  const versions = new Map<number, Map<bigint, Item>>();
  let model = new Map<bigint, Item>();
  const rand = rng(42);

  const commit = async (p: Promise<{ version?: number }>): Promise<void> => {
    await p;
    const tv = await env.catalog.tableVersion('d', 'items');
    versions.set(tv.version, new Map(model));
  };
  const hasDelta = async (): Promise<boolean> => {
    const tv = await env.catalog.tableVersion('d', 'items');
    return (await env.format.layout(tv.manifest)).delta !== undefined;
  };

  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    await env.catalog.createRepo('d');
    for (let i = 0; i < N; i++) model.set(BigInt(i * 2), { id: BigInt(i * 2), price: Math.floor(i / 3), tag: `t${i % 7}` });
    await commit(env.catalog.createTable('d', 'items', { rows: [...model.values()], primaryKey: ['id'] }));
  });
  afterAll(async () => env?.cleanup());

  const sorted = (m: Map<bigint, Item>): Item[] => [...m.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const asSql = (r: Item): Record<string, unknown> => ({ id: Number(r.id), price: r.price, tag: r.tag });

  async function expectModel(m: Map<bigint, Item>, opts: { versions?: Record<string, number> } = {}): Promise<void> {
    const all = await env.engine.query('d', 'SELECT id, price, tag FROM items ORDER BY id', { ...opts, limits: { maxRows: 100_000 } });
    expect(all.rows).toEqual(sorted(m).map(asSql));
    const agg = await env.engine.query('d', 'SELECT count(*) AS n, sum(price) AS s FROM items', opts);
    expect(agg.rows).toEqual([{ n: m.size, s: sorted(m).reduce((s, r) => s + r.price, 0) }]);
    // Pruning filters on a non-key column, including the band updates move rows into and out of.
    for (const [lo, hi] of [[990, 2000], [0, 5], [400, 420], [5000, 6000]] as const) {
      const r = await env.engine.query('d', `SELECT id, price FROM items WHERE price BETWEEN ${lo} AND ${hi} ORDER BY id`, opts);
      expect(r.rows).toEqual(sorted(m).filter((x) => x.price >= lo && x.price <= hi).map((x) => ({ id: Number(x.id), price: x.price })));
    }
    const key = sorted(m)[Math.floor(rand() * m.size)]!;
    expect((await env.engine.query('d', `SELECT price, tag FROM items WHERE id = ${key.id}`, opts)).rows).toEqual([{ price: key.price, tag: key.tag }]);
  }

  it('sees updates that move rows into and out of a price range, deletes and inserts held in the delta', async () => {
    // Prices follow the key, so ranges prune base chunks. Updates: rows priced 0..5 jump to 1500 (out of [0, 5], into [990, 2000]) and some 990+ rows drop to 1.
    const moved = sorted(model).filter((r) => r.price <= 5 || r.price >= 995).slice(0, 60)
      .map((r) => ({ ...r, price: r.price <= 5 ? 1500 : 1, tag: 'moved' }));
    for (const r of moved) model.set(r.id, r);
    await commit(env.catalog.upsert('d', 'items', moved));
    expect(await hasDelta()).toBe(true);
    await expectModel(model);

    const gone = sorted(model).filter((_, i) => i % 97 === 3).map((r) => ({ id: r.id }));
    for (const k of gone) model.delete(k.id);
    await commit(env.catalog.deleteRows('d', 'items', gone));
    const added = Array.from({ length: 40 }, (_, i) => ({ id: BigInt(i * 150 + 1), price: 1000 + i, tag: 'new' }));
    for (const r of added) model.set(r.id, r);
    await commit(env.catalog.append('d', 'items', added));
    // A delete of a key the delta alone holds, and an upsert of a deleted key.
    model.delete(added[0]!.id);
    await commit(env.catalog.deleteRows('d', 'items', [{ id: added[0]!.id }]));
    const back = { id: gone[0]!.id, price: 3, tag: 'back' };
    model.set(back.id, back);
    await commit(env.catalog.upsert('d', 'items', [back]));
    expect(await hasDelta()).toBe(true);
    await expectModel(model);
    const tv = await env.catalog.tableVersion('d', 'items');
    const read = (await env.engine.query('d', 'SELECT count(*) AS n FROM items WHERE price BETWEEN 400 AND 420')).tables[0]!;
    const layout = await env.format.layout(tv.manifest);
    expect(read.chunksRead).toBeLessThan(layout.base.length + layout.delta!.chunks.length);
    // The delta is several runs here (each later edit is a run of its own): the one-row runs' chunks lie
    // outside the kept base chunks' keys and are skipped; the big update's chunks span every key.
    expect(layout.delta!.runStarts?.length).toBeGreaterThan(1);
    expect(read.chunksRead).toBeGreaterThanOrEqual(layout.delta!.runStarts![1]!);
  });

  it('folds the delta past the threshold; every version reads its own rows', async () => {
    const big = sorted(model).filter(() => rand() < 0.3).map((r) => ({ ...r, price: (r.price + 500) % 1000, tag: 'big' }));
    for (const r of big) model.set(r.id, r);
    await commit(env.catalog.upsert('d', 'items', big));
    expect(await hasDelta()).toBe(false);
    await expectModel(model);
    const small = sorted(model).slice(10, 20).map((r) => ({ ...r, price: 999, tag: 'after' }));
    for (const r of small) model.set(r.id, r);
    await commit(env.catalog.upsert('d', 'items', small));
    expect(await hasDelta()).toBe(true);
    // Time travel: before any delta, with deltas, after the fold, with a new delta.
    expect(versions.size).toBeGreaterThanOrEqual(7);
    for (const [v, m] of versions) await expectModel(m, { versions: { items: v } });
  });
});

describe('QueryEngine over column-level updates (delta rows keeping base values)', () => {
  let env: Env;
  let viewOnly: QueryEngine;
  const N = 3000;
  let model = new Map<bigint, Item>();
  const sorted = (): Item[] => [...model.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    // Compaction off: every query goes through the merge view (the other engine may read compacted files).
    viewOnly = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'cache-view'), threads: 1, compaction: false });
    await env.catalog.createRepo('p');
    for (let i = 0; i < N; i++) model.set(BigInt(i * 2), { id: BigInt(i * 2), price: Math.floor(i / 3), tag: `t${i % 7}` });
    await env.catalog.createTable('p', 'items', { rows: sorted(), primaryKey: ['id'] });
  });
  afterAll(async () => {
    await viewOnly?.close();
    await env?.cleanup();
  });

  async function expectModel(engine: QueryEngine): Promise<void> {
    const all = await engine.query('p', 'SELECT id, price, tag FROM items ORDER BY id', { limits: { maxRows: 100_000 } });
    expect(all.rows).toEqual(sorted().map((r) => ({ id: Number(r.id), price: r.price, tag: r.tag })));
    // Non-key ranges (a partial row keeps its base price, or changed only its price) and key ranges.
    for (const [lo, hi] of [[0, 5], [400, 420], [990, 2000]] as const) {
      const r = await engine.query('p', `SELECT id, price, tag FROM items WHERE price BETWEEN ${lo} AND ${hi} ORDER BY id`);
      expect(r.rows).toEqual(sorted().filter((x) => x.price >= lo && x.price <= hi).map((x) => ({ id: Number(x.id), price: x.price, tag: x.tag })));
    }
    const tagged = await engine.query('p', `SELECT count(*) AS n FROM items WHERE tag = 'renamed'`);
    expect(tagged.rows).toEqual([{ n: sorted().filter((x) => x.tag === 'renamed').length }]);
    const keys = await engine.query('p', 'SELECT id, price, tag FROM items WHERE id BETWEEN 1000 AND 1400 ORDER BY id');
    expect(keys.rows).toEqual(sorted().filter((x) => x.id >= 1000n && x.id <= 1400n).map((x) => ({ id: Number(x.id), price: x.price, tag: x.tag })));
  }

  it('joins partial rows with their base rows; key ranges still prune', async () => {
    const all = sorted();
    // Scattered: every 50th row gets a new tag only, every 77th a new price only (moving it between ranges).
    const renamed = all.filter((_, i) => i % 50 === 7).map((r) => ({ ...r, tag: 'renamed' }));
    const repriced = all.filter((_, i) => i % 77 === 5 && i % 50 !== 7).map((r) => ({ ...r, price: r.price <= 5 ? 1500 : 2 }));
    for (const r of [...renamed, ...repriced]) model.set(r.id, r);
    await env.catalog.upsert('p', 'items', [...renamed, ...repriced]);
    const tv = await env.catalog.tableVersion('p', 'items');
    const layout = await env.format.layout(tv.manifest);
    expect(layout.delta?.unchangedColumn).toBeDefined();
    // The delta stores the changed column only: the other non-key column is null in every delta row.
    const stats = layout.delta!.chunks.map((c) => [c.stats.price!.nullCount, c.stats.tag!.nullCount, c.rows]);
    expect(stats.reduce((s, [p]) => s + p!, 0)).toBe(renamed.length);
    expect(stats.reduce((s, [, t]) => s + t!, 0)).toBe(repriced.length);
    await expectModel(viewOnly);
    await expectModel(env.engine);
    await env.engine.idle();
    await expectModel(env.engine);
    const read = (await viewOnly.query('p', 'SELECT count(*) AS n FROM items WHERE id BETWEEN 1000 AND 1400')).tables[0]!;
    expect(read.chunksRead).toBeLessThan(layout.base.length);
    // A later whole-row update of a partial key, and a delete of another: the delta row is replaced.
    const whole = { id: renamed[0]!.id, price: 7777, tag: 'whole' };
    model.set(whole.id, whole);
    model.delete(renamed[1]!.id);
    await env.catalog.upsert('p', 'items', [whole]);
    await env.catalog.deleteRows('p', 'items', [{ id: renamed[1]!.id }]);
    await expectModel(viewOnly);
    await expectModel(env.engine);
  });
});
