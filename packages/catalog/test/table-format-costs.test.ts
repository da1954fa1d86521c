// What keyed edits and row diffs read and decode: key columns kept between edits, 64-bit key
// comparison on words, galloping lookups, delta flag columns built directly, row diffs that decode only
// the rows under delta keys.
import { describe, expect, it } from 'vitest';
import { Bool, Int64, Table, Uint64, makeVector, vectorFromArray } from 'apache-arrow';
import type { ChunkStore } from '@armillaria/chunk-store';
import { InvalidArgumentError } from '@armillaria/core';
import { ParquetTableFormat, parquetCodec, type ParquetCodec } from '../src/index.js';
import { tableFromIPC } from 'apache-arrow';
import { KeyRunCache } from '../src/table-format/key-run-cache.js';
import { compareRows, keyVectors, seekRow, type KeyVectors } from '../src/table-format/keys.js';
import { constantBools, deltaFlags, masksVector } from '../src/table-format/delta.js';
import { DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN } from '../src/table-format/table-format.js';
import type { ManifestSchema } from '../src/table-format/column-types.js';
import { customer, customersTable, makeFormat, rng, rowsOf, plain } from './table-format-helpers.js';

/** A chunk store whose gets are recorded by hash. */
function countingGets(chunks: ChunkStore): { store: ChunkStore; gets: string[] } {
  const gets: string[] = [];
  const store = new Proxy(chunks, {
    get: (target, prop, recv) => (prop === 'get' ? (h: string) => (gets.push(h), target.get(h)) : Reflect.get(target, prop, recv)),
  });
  return { store, gets };
}

const int64Schema: ManifestSchema = { fields: [{ name: 'id', type: 'int64', nullable: false }] };
const uint64Schema: ManifestSchema = { fields: [{ name: 'id', type: 'uint64', nullable: false }] };
const keysOf = (ids: bigint[], unsigned = false): KeyVectors =>
  keyVectors(new Table({ id: vectorFromArray(ids, unsigned ? new Uint64() : new Int64()) }), ['id'], unsigned ? uint64Schema : int64Schema);

describe('keyed edits keep decoded key columns between edits', () => {
  it('a second scattered upsert reads no base chunk for its key lookups, and writes what an uncached format writes', async () => {
    const { chunks, hasher } = await makeFormat();
    const { store, gets } = countingGets(chunks);
    const format = new ParquetTableFormat({ chunks: store, hasher, targetChunkRows: 64 });
    const rows = Array.from({ length: 2000 }, (_, i) => customer(BigInt(i * 2)));
    const w = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const base = new Set((await format.layout(w.manifest)).base.map((c) => c.hash));
    expect(base.size).toBeGreaterThan(8);
    // Inserts of new keys: no base row is decoded for column masks, so only key lookups read base chunks.
    const inserts = (round: number) => customersTable(Array.from({ length: 20 }, (_, i) => customer(BigInt(i * 200 + 1 + round * 2))));
    gets.length = 0;
    const u1 = await format.upsert(w.manifest, inserts(0));
    const firstReads = gets.filter((h) => base.has(h)).length;
    expect(firstReads).toBeGreaterThan(8);
    gets.length = 0;
    const u2 = await format.upsert(u1.manifest, inserts(1));
    expect(gets.filter((h) => base.has(h))).toEqual([]);

    // The same edits without the cache give the same manifests (the cache changes reads, not results).
    const cold = new ParquetTableFormat({ chunks, hasher, targetChunkRows: 64, keyCacheBytes: 0 });
    const c1 = await cold.upsert(w.manifest, inserts(0));
    const c2 = await cold.upsert(c1.manifest, inserts(1));
    expect([c1.manifest, c2.manifest]).toEqual([u1.manifest, u2.manifest]);
    const expected = [...rows, ...Array.from({ length: 40 }, (_, i) => customer(BigInt((i % 20) * 200 + 1 + Math.floor(i / 20) * 2)))];
    expected.sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(rowsOf(await format.read(u2.manifest))).toEqual(expected.map(plain));
  });

  it('evicts the oldest runs past its byte budget, and rejects a bad budget', async () => {
    const cache = new KeyRunCache(3 * (64 + 8 * 100));
    const run = (n: number) => ({ keys: keysOf(Array.from({ length: n }, (_, i) => BigInt(i))) });
    for (const h of ['a', 'b', 'c']) cache.set(h.repeat(64), ['id'], false, run(100));
    expect(cache.get('a'.repeat(64), ['id'], false)).toBeDefined(); // refreshed: b is now the oldest
    cache.set('d'.repeat(64), ['id'], false, run(100));
    expect(cache.get('b'.repeat(64), ['id'], false)).toBeUndefined();
    expect(cache.get('a'.repeat(64), ['id'], false)).toBeDefined();
    // Other key columns or the delta view of the same bytes are other entries.
    expect(cache.get('a'.repeat(64), ['other'], false)).toBeUndefined();
    expect(cache.get('a'.repeat(64), ['id'], true)).toBeUndefined();
    cache.set('e'.repeat(64), ['id'], false, run(10_000)); // larger than the budget: not kept
    expect(cache.get('e'.repeat(64), ['id'], false)).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(3 * (64 + 8 * 100));
    const { chunks } = await makeFormat();
    expect(() => new ParquetTableFormat({ chunks, keyCacheBytes: -1 })).toThrow(InvalidArgumentError);
  });
});

describe('row diffs of versions with a delta', () => {
  it('decode only the rows under delta keys from the base chunks both versions share', async () => {
    const { chunks, hasher } = await makeFormat();
    let decodedRows = 0;
    const codec: ParquetCodec = {
      ...parquetCodec,
      decode: async (parquet, columns, rows) => {
        const ipc = await parquetCodec.decode(parquet, columns, rows);
        // Decodes of the key and the tombstone flag only (lookups, the delta's index) are not row data.
        if (!columns || !columns.every((c) => c === 'id' || c === DELTA_DELETED_COLUMN)) decodedRows += tableFromIPC(ipc).numRows;
        return ipc;
      },
    };
    const format = new ParquetTableFormat({ chunks, hasher, targetChunkRows: 64, codec });
    const rows = Array.from({ length: 4000 }, (_, i) => customer(BigInt(i * 2)));
    const w = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const changed = Array.from({ length: 10 }, (_, i) => customer(BigInt(i * 800), 1));
    const inserted = Array.from({ length: 5 }, (_, i) => customer(BigInt(i * 1600 + 1), 1));
    const u = await format.upsert(w.manifest, customersTable([...changed, ...inserted]));
    expect((await format.layout(u.manifest)).delta).toBeDefined();
    decodedRows = 0;
    const d = await format.diffRows(w.manifest, u.manifest);
    expect(d.changed.map((c) => c.key)).toEqual(changed.map((c) => [c.id]));
    expect(d.added.map((r) => r.id)).toEqual(inserted.map((c) => c.id));
    expect(d.removed).toEqual([]);
    // 10 base rows under changed keys, plus the delta's 15 rows; decoding the 10+ shared chunks whole
    // took over 600.
    expect(decodedRows).toBeLessThanOrEqual(10 + 15);
  });
});

describe('key comparison on 64-bit words', () => {
  const big = (rand: () => number): bigint => BigInt.asIntN(64, (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32)));

  it('orders int64 and uint64 keys as BigInt comparison does, across signs and the 2^32 carry', () => {
    const rand = rng(21);
    const edge = [-(2n ** 63n), -(2n ** 32n) - 1n, -(2n ** 32n), -1n, 0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n - 1n];
    const ids = [...edge, ...Array.from({ length: 200 }, () => big(rand))];
    const v = keysOf(ids);
    const u = keysOf(ids.map((x) => BigInt.asUintN(64, x)), true);
    for (let i = 0; i < ids.length; i++) {
      for (let j = 0; j < ids.length; j += 7) {
        expect(Math.sign(compareRows(v, i, v, j)), `${ids[i]} vs ${ids[j]}`).toBe(ids[i]! < ids[j]! ? -1 : ids[i]! > ids[j]! ? 1 : 0);
        const [a, b] = [BigInt.asUintN(64, ids[i]!), BigInt.asUintN(64, ids[j]!)];
        expect(Math.sign(compareRows(u, i, u, j)), `${a} vs ${b} unsigned`).toBe(a < b ? -1 : a > b ? 1 : 0);
      }
    }
  });

  it('seekRow finds what a linear scan finds, from any start', () => {
    const rand = rng(5);
    for (let t = 0; t < 100; t++) {
      const run = Array.from({ length: Math.floor(rand() * 300) }, () => BigInt(Math.floor(rand() * 1000) - 500)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const probes = Array.from({ length: 20 }, () => BigInt(Math.floor(rand() * 1100) - 550));
      const r = keysOf(run);
      const p = keysOf(probes);
      for (let j = 0; j < probes.length; j++) {
        const from = Math.floor(rand() * (run.length + 1));
        let x = from;
        while (x < run.length && compareRows(r, x, p, j) < 0) x++;
        expect(seekRow(r, from, p, j)).toBe(x);
      }
    }
  });
});

describe('delta flag columns built directly', () => {
  it('round-trip masks, nulls and tombstone flags, including sliced Bool data', () => {
    const masks = ['010', null, '111', '', null, '0'];
    const m = masksVector(masks, masks.length);
    expect([...m]).toEqual(masks.map((x) => x ?? null));
    expect(m.nullCount).toBe(2);
    expect([...masksVector(undefined, 3)]).toEqual([null, null, null]);
    expect([...constantBools(10, true)]).toEqual(new Array(10).fill(true));
    expect([...constantBools(9, false)]).toEqual(new Array(9).fill(false));

    // A Bool column in two data pieces, the second at a bit offset, with a null: flags 1 only for true.
    const values = [true, false, true, true, null, false, true, false, false, true, true];
    const whole = vectorFromArray(values, new Bool());
    const d = whole.data[0]!;
    const pieces = makeVector([d.slice(0, 3), d.slice(3, values.length - 3)]);
    const t = new Table({ [DELTA_UNCHANGED_COLUMN]: masksVector(values.map(() => null), values.length), [DELTA_DELETED_COLUMN]: pieces });
    const flags = deltaFlags(t);
    expect(Array.from(flags.deleted)).toEqual(values.map((v) => (v === true ? 1 : 0)));
    expect(flags.unchanged).toBeUndefined();
  });
});
