import { afterEach, describe, expect, it } from 'vitest';
import { ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, refNames } from '../src/index.js';
import { CountingObjectStore, codeOf, embeddedCatalog, plainRows, type EmbeddedCatalog } from './catalog-helpers.js';

/** Cost properties only the embedded catalog can observe: writes per operation, reads per lookup. */
describe('Catalog (embedded) costs and indexes', () => {
  let env: EmbeddedCatalog;
  afterEach(async () => env?.cleanup());

  it('creating a branch writes exactly one ref and no chunk, whatever the table size', async () => {
    env = await embeddedCatalog();
    const { catalog, objects, refs } = env;
    await catalog.createRepo('r');
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: BigInt(i), v: `value-${i}` }));
    await catalog.createTable('r', 'big', { rows, primaryKey: ['id'] });
    for (const name of ['feature', 'experiment/deep/x']) {
      const puts = objects.puts;
      const cas = refs.cas.length;
      await catalog.createBranch('r', name);
      expect(objects.puts - puts).toBe(0);
      expect(refs.cas.slice(cas)).toEqual([refNames.branch('r', name)]);
    }
    expect((await catalog.read('r', 'big', { ref: 'experiment/deep/x' })).numRows).toBe(5000);
  });

  it('a tag is one ref too; a commit writes tree + commit chunks and one branch CAS', async () => {
    env = await embeddedCatalog();
    const { catalog, objects, refs } = env;
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { rows: [{ id: 1n }], primaryKey: ['id'] });
    let puts = objects.puts;
    let cas = refs.cas.length;
    await catalog.createTag('r', 'v1');
    expect(objects.puts - puts).toBe(0);
    expect(refs.cas.slice(cas)).toEqual([refNames.tag('r', 'v1')]);
    puts = objects.puts;
    cas = refs.cas.length;
    const res = await catalog.upsert('r', 't', [{ id: 2n }]);
    expect(refs.cas.slice(cas)).toEqual([refNames.commit('r', res.commit.hash), refNames.branch('r', 'main')]);
    expect(objects.puts - puts).toBeGreaterThanOrEqual(3);
  });

  it('a hash prefix matching two commits is AMBIGUOUS_REF; the index is consulted, not the history', async () => {
    env = await embeddedCatalog();
    const { catalog, refs } = env;
    await catalog.createRepo('r');
    const real = await catalog.resolve('r');
    // Two index entries sharing a 6-hex prefix (a real collision needs ~2^12 commits to be likely).
    const twin = `${real.hash.slice(0, 6)}${'0'.repeat(58)}`;
    await refs.compareAndSwap(refNames.commit('r', twin), null, twin);
    expect(await codeOf(catalog.resolve('r', real.hash.slice(0, 6)))).toBe('AMBIGUOUS_REF');
    expect((await catalog.resolve('r', real.hash.slice(0, 7) === twin.slice(0, 7) ? real.hash : real.hash.slice(0, 7))).hash).toBe(real.hash);
    expect(await codeOf(catalog.resolve('r', 'abcde'))).toBe('REF_NOT_FOUND');
  });

  it('version, time and table-log lookups read O(log n) commits, not the whole history', async () => {
    env = await embeddedCatalog();
    const { catalog, objects } = env;
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { rows: [{ id: 0n, n: 0 }], primaryKey: ['id'] });
    const N = 150;
    const times: number[] = [];
    for (let i = 1; i < N; i++) times.push((await catalog.upsert('r', 't', [{ id: BigInt(i), n: i }])).commit.time);
    // A fresh catalog over the same stores: nothing cached, so every commit/tree read is an object get.
    const reads = { n: 0 };
    const counting = Object.create(objects) as CountingObjectStore;
    counting.get = async (key: string, o?: { signal?: AbortSignal }) => {
      reads.n++;
      return objects.get(key, o);
    };
    const hasher = await loadHasher();
    const fresh = () => new Catalog({ chunks: new ObjectChunkStore({ objects: counting, hasher }), refs: env.refs, format: env.catalog.format });

    for (const version of [1, 2, 75, 149, 150]) {
      const c = fresh();
      reads.n = 0;
      const v = await c.tableVersion('r', 't', { version });
      expect(v.version).toBe(version);
      expect(reads.n).toBeLessThan(60); // ~2·log2(150) commits + trees (+ repo and ref reads); a walk would read ~300
    }
    {
      const c = fresh();
      reads.n = 0;
      const at = times[100] as number;
      const commit = await c.resolve('r', `${(await c.resolve('r')).hash}@{${at}}`);
      expect(commit.time).toBeLessThanOrEqual(at);
      expect(reads.n).toBeLessThan(60);
    }
    {
      const c = fresh();
      reads.n = 0;
      const log = await c.log('r', { table: 't', limit: 3 });
      expect(log.map((e) => e.tableVersion)).toEqual([150, 149, 148]);
      expect(reads.n).toBeLessThan(80);
    }
    expect(plainRows(await fresh().read('r', 't', { version: 3 })).map((r) => r.id)).toEqual([0, 1, 2]);
  });
});
