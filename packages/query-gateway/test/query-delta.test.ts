// SQL over keyed tables with a merge-on-read delta: updates, deletes and inserts the delta holds are
// visible; pruning on a non-key column stays correct when a delta row moved in or out of the range;
// per-table versions read before, with and after the delta is folded into the base.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(read.chunksRead).toBeGreaterThanOrEqual(layout.delta!.chunks.length);
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
