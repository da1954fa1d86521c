// Per-version compaction (on by default): a version with a merge-on-read delta is compacted into its
// merged rows, and every scan of it then reads that one file instead of base ANTI JOIN delta, with the
// same answers as the engine without compaction.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryEngine } from '../src/index.js';
import { Compactor } from '../src/compactor.js';
import { embeddedEnv, type Env } from './helpers.js';

describe('compaction of versions with a merge-on-read delta', () => {
  let env: Env;
  let plain: QueryEngine;
  let compacting: QueryEngine;
  const N = 4000;
  beforeAll(async () => {
    env = await embeddedEnv({ targetChunkRows: 64 });
    await env.catalog.createRepo('k');
    await env.catalog.createTable('k', 'items', { rows: Array.from({ length: N }, (_, i) => ({ id: BigInt(i), price: i % 100, tag: `t${i % 7}` })), primaryKey: ['id'] });
    // Updates (moving prices), deletes and inserts small enough to stay in the delta.
    await env.catalog.upsert('k', 'items', Array.from({ length: 40 }, (_, i) => ({ id: BigInt(i * 97), price: 500 + i, tag: 'upd' })));
    await env.catalog.deleteRows('k', 'items', Array.from({ length: 20 }, (_, i) => ({ id: BigInt(i * 101 + 1) })));
    await env.catalog.upsert('k', 'items', Array.from({ length: 30 }, (_, i) => ({ id: BigInt(N + i), price: 7, tag: 'new' })));
    plain = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'plain'), threads: 1, compaction: false });
    compacting = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'compacting'), threads: 1, compaction: { minChunks: 4 } });
  });
  afterAll(async () => {
    await plain?.close();
    await compacting?.close();
    await env?.cleanup();
  });

  it('reads the merged file after the first full scan, for full and pruned scans alike, with the same rows', async () => {
    const tv = await env.catalog.tableVersion('k', 'items');
    expect((await env.format.layout(tv.manifest)).delta).toBeDefined();
    const first = await compacting.query('k', 'SELECT count(*) AS n FROM items');
    expect(first.tables[0]!.compacted).toBe(false);
    expect(first.rows).toEqual([{ n: N - 20 + 30 }]);
    await compacting.idle();
    const queries = [
      'SELECT count(*) AS n, sum(price) AS s, count(DISTINCT tag) AS t FROM items',
      'SELECT id, price, tag FROM items WHERE price BETWEEN 500 AND 520 ORDER BY id',
      'SELECT id, price FROM items WHERE id BETWEEN 90 AND 210 ORDER BY id',
      `SELECT id, tag FROM items WHERE id >= ${N - 5} ORDER BY id`,
      'SELECT count(*) AS n FROM items WHERE id = 102',
      'SELECT tag, count(*) AS n FROM items GROUP BY tag ORDER BY tag',
    ];
    for (const sql of queries) {
      const got = await compacting.query('k', sql);
      expect(got.tables[0]!.compacted, sql).toBe(true);
      expect(got.rows, sql).toEqual((await plain.query('k', sql)).rows);
    }
    // The version before the delta is its own file (built after its own full scan), with its own rows.
    const v1 = { versions: { items: 1 } };
    await compacting.query('k', 'SELECT count(*) FROM items', v1);
    await compacting.idle();
    const old = await compacting.query('k', 'SELECT count(*) AS n, sum(price) AS s FROM items', v1);
    expect(old.tables[0]!.compacted).toBe(true);
    expect(old.rows).toEqual([{ n: N, s: Array.from({ length: N }, (_, i) => i % 100).reduce((a, b) => a + b, 0) }]);
  });

  it('compacts a version with a delta whatever its chunk count; a plain version only from minChunks on', async () => {
    const few = await QueryEngine.open({ catalog: env.catalog, format: env.format, chunks: env.chunks, cacheDir: join(env.dir, 'few'), threads: 1, compaction: { minChunks: 10_000 } });
    try {
      const sql = 'SELECT count(*) AS n, sum(price) AS s FROM items';
      for (const opts of [{}, { versions: { items: 1 } }]) {
        await few.query('k', sql, opts);
        await few.idle();
      }
      const delta = await few.query('k', sql);
      expect(delta.tables[0]!.compacted).toBe(true);
      expect(delta.rows).toEqual((await plain.query('k', sql)).rows);
      const v1 = await few.query('k', sql, { versions: { items: 1 } });
      expect(v1.tables[0]!.compacted).toBe(false);
    } finally {
      await few.close();
    }
  });

  it('runs one compaction at a time (maxConcurrent): a version found busy starts none until a later scan', async () => {
    // The compactor alone, its copy held open, so "while one runs" is not a race with a fast copy.
    const cache = { maxBytes: 1 << 30, lease: () => ({ release: () => undefined }), pinChunks: (hs: readonly string[]) => hs.map((h) => `/x/${h}`) };
    const compactor = new Compactor(undefined as never, cache as never, { minChunks: 1 });
    const builds: string[] = [];
    let finish: () => void = () => undefined;
    (compactor as unknown as { build: (m: string) => Promise<void> }).build = (m) => {
      builds.push(m);
      return new Promise<void>((resolve) => (finish = resolve));
    };
    const source = (m: string) => ({ manifest: m, fields: [{ name: 'id', type: 'int64' as const }], chunks: [{ hash: m, bytes: 10 }] });
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    compactor.start(source(a));
    compactor.start(source(b)); // a is running: b waits for a later full scan
    expect(builds).toEqual([a]);
    finish();
    await compactor.idle();
    compactor.start(source(b));
    expect(builds).toEqual([a, b]);
    finish();
    await compactor.idle();
    expect(() => new Compactor(undefined as never, cache as never, { maxConcurrent: 0 })).toThrow(/maxConcurrent/);
  });
});
