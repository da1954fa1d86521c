import { describe, expect, it } from 'vitest';
import { Int64, Table, Uint64, Utf8, vectorFromArray } from 'apache-arrow';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { ParquetTableFormat } from '../src/index.js';
import { compareRows, keyVectors, strictlyAscending, type KeyVectors } from '../src/table-format/keys.js';
import type { ManifestSchema } from '../src/table-format/column-types.js';
import { seededRandom } from '@armillaria/testkit';

const int64Schema: ManifestSchema = { fields: [{ name: 'id', type: 'int64', nullable: false }] };
const uint64Schema: ManifestSchema = { fields: [{ name: 'id', type: 'uint64', nullable: false }] };

const int64Keys = (ids: bigint[]): KeyVectors => keyVectors(new Table({ id: vectorFromArray(ids, new Int64()) }), ['id'], int64Schema);
const uint64Keys = (ids: bigint[]): KeyVectors => keyVectors(new Table({ id: vectorFromArray(ids, new Uint64()) }), ['id'], uint64Schema);

/** The definition strictlyAscending must agree with: every row below the next by compareRows. */
const slow = (v: KeyVectors): boolean => Array.from({ length: Math.max(0, v.length - 1) }, (_, i) => compareRows(v, i, v, i + 1) < 0).every(Boolean);

describe('strictlyAscending', () => {
  it('compares 64-bit keys on their words as BigInt order would: signs, the 2^32 carry, unsigned tops', () => {
    const cases: bigint[][] = [
      [-(2n ** 63n), -(2n ** 32n) - 1n, -(2n ** 32n), -1n, 0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n - 1n],
      [0n, 2n ** 32n, 2n ** 32n - 1n], // low word wraps: not ascending
      [5n, 5n], // a duplicate
      [-1n, -2n],
      [1n],
      [],
    ];
    for (const ids of cases) expect(strictlyAscending(int64Keys(ids)), ids.join(',')).toBe(slow(int64Keys(ids)));
    expect(strictlyAscending(int64Keys(cases[0]!))).toBe(true);
    expect(strictlyAscending(uint64Keys([0n, 2n ** 31n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n]))).toBe(true);
    expect(strictlyAscending(uint64Keys([2n ** 63n, 2n ** 63n - 1n]))).toBe(false);
  });

  it('agrees with compareRows on random 64-bit keys, and on string and compound keys', () => {
    const rand = seededRandom(7);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(rand() * 6);
      const ids = Array.from({ length: n }, () => BigInt.asIntN(64, (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 4))));
      if (rand() < 0.5) ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const v = int64Keys(ids);
      expect(strictlyAscending(v), ids.join(',')).toBe(slow(v));
    }
    const str: ManifestSchema = { fields: [{ name: 'k', type: 'utf8', nullable: false }, { name: 'n', type: 'int64', nullable: false }] };
    const compound = (ks: string[], ns: bigint[]) => keyVectors(new Table({ k: vectorFromArray(ks, new Utf8()), n: vectorFromArray(ns, new Int64()) }), ['k', 'n'], str);
    expect(strictlyAscending(compound(['a', 'a', 'b'], [1n, 2n, 0n]))).toBe(true);
    expect(strictlyAscending(compound(['a', 'a'], [2n, 2n]))).toBe(false);
  });
});

describe('a new keyed table', () => {
  it('is chunked the same whether its rows come in key order (no per-row picks) or shuffled', async () => {
    const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
    const format = new ParquetTableFormat({ chunks, targetChunkRows: 64 });
    const rand = seededRandom(11);
    const ids = Array.from({ length: 3000 }, (_, i) => BigInt(i * 7919) - 2n ** 33n);
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const table = (xs: bigint[]) => new Table({ id: vectorFromArray(xs, new Int64()), v: vectorFromArray(xs.map((x) => `v${x}`), new Utf8()) });
    const inOrder = await format.write(table(ids), { primaryKey: ['id'] });
    const fromShuffled = await format.write(table(shuffled), { primaryKey: ['id'] });
    expect(inOrder.manifest).toBe(fromShuffled.manifest);
    const list = await format.chunks(inOrder.manifest);
    expect(list.length).toBeGreaterThan(20);
    expect(list[0]!.firstKey).toEqual([String(ids[0])]);
    expect(list[list.length - 1]!.lastKey).toEqual([String(ids[ids.length - 1])]);
  });
});
