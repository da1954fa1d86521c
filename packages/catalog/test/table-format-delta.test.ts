// Merge-on-read deltas of keyed tables: what is written, what readers see, and the errors.
import { describe, expect, it } from 'vitest';
import { Bool, Table, tableFromIPC, vectorFromArray } from 'apache-arrow';
import { ErrorCode } from '@armillaria/core';
import { DELTA_DELETED_COLUMN, parquetCodec } from '../src/index.js';
import type { ParquetCodec } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, plain, rowsOf } from './table-format-helpers.js';

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);
const ids = (n: number, step = 2) => Array.from({ length: n }, (_, i) => BigInt(i * step));

describe('ParquetTableFormat: merge-on-read delta', () => {
  it('scattered changes write only the changed rows; readers see the logical table; compact folds it', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const base = await format.write(customersTable(ids(4000).map((i) => customer(i))), { primaryKey: ['id'] });
    const baseChunks = await format.chunks(base.manifest);
    expect(baseChunks.length).toBeGreaterThan(20);
    // 1% updates scattered over every chunk, a few inserts and deletes.
    const upd = ids(40, 200).map((i) => customer(i, 1));
    const u = await format.upsert(base.manifest, customersTable(upd));
    const m = await format.readManifest(u.manifest);
    expect(m.formatVersion).toBe(3);
    expect(m.delta).toMatchObject({ rows: 40, deletes: 0 });
    expect(m.rows).toBe(4000);
    const layout = await format.layout(u.manifest);
    expect(layout.base.map((c) => c.hash)).toEqual(baseChunks.map((c) => c.hash));
    expect(layout.delta).toMatchObject({ deletedColumn: DELTA_DELETED_COLUMN, rows: 40, deletes: 0 });
    expect(layout.keyColumns).toEqual(['id']);
    expect(u.chunksWritten).toBe(layout.delta!.chunks.length);
    expect(u.chunksReused).toBe(baseChunks.length);
    expect(layout.delta!.chunks.reduce((s, c) => s + c.bytes, 0)).toBeLessThan(u.bytesWritten);
    const d = await format.deleteKeys(u.manifest, keysTable([0n, 200n, 1n, 7998n]));
    const a = await format.append(d.manifest, customersTable([customer(1n, 2), customer(3n, 2), customer(200n, 2)]));
    const dm = await format.readManifest(a.manifest);
    // 200 was updated then deleted then re-inserted; 1 never existed in the base, so its delete was a no-op.
    expect(dm.rows).toBe(4000 - 3 + 3);
    expect(dm.delta).toMatchObject({ deletes: 2 });
    const expected = new Map(ids(4000).map((i) => [i, plain(customer(i))]));
    for (const c of upd) expected.set(c.id, plain(c));
    for (const k of [0n, 200n, 7998n]) expected.delete(k);
    for (const c of [customer(1n, 2), customer(3n, 2), customer(200n, 2)]) expected.set(c.id, plain(c));
    const want = [...expected.values()].sort((x, y) => (x.id as bigint) < (y.id as bigint) ? -1 : 1);
    expect(rowsOf(await format.read(a.manifest))).toEqual(want);
    expect(rowsOf(await format.read(a.manifest, { columns: ['name'] }))).toEqual(want.map((r) => ({ name: r.name })));
    // Row diff against the base: decodes the chunks around the delta keys only.
    const rd = await format.diffRows(base.manifest, a.manifest);
    expect(rd.added.map((r) => r.id).sort()).toEqual([1n, 3n]);
    expect(rd.removed.map((r) => r.id).sort()).toEqual([0n, 7998n]);
    expect(rd.changed.length).toBe(39); // 40 updated keys but 0, deleted (200, deleted and re-inserted, is changed)
    const cd = await format.diffChunks(base.manifest, a.manifest);
    expect(cd.removed).toEqual([]);
    expect(cd.added.map((c) => c.hash)).toEqual((await format.layout(a.manifest)).delta!.chunks.map((c) => c.hash));
    // Compaction: the same manifest as writing the logical rows from scratch; diff against it is empty.
    const c = await format.compact(a.manifest);
    expect((await format.readManifest(c.manifest)).delta).toBeUndefined();
    const scratch = await (await makeFormat({ targetChunkRows: 64 })).format.write(customersTable(want.map((r) => ({ ...r }) as never)), { primaryKey: ['id'] });
    expect(c.manifest).toBe(scratch.manifest);
    // Row values of merge-on-read diffs equal those of the copy-on-write (compacted) versions' diffs.
    expect(await format.diffRows(base.manifest, a.manifest)).toEqual(await format.diffRows(base.manifest, c.manifest));
    const cu = (await format.compact(u.manifest)).manifest;
    expect(await format.diffRows(u.manifest, a.manifest)).toEqual(await format.diffRows(cu, c.manifest));
    expect(await format.diffRows(a.manifest, u.manifest)).toEqual(await format.diffRows(c.manifest, cu));
    const none = await format.diffRows(a.manifest, c.manifest);
    expect([none.added.length, none.removed.length, none.changed.length]).toEqual([0, 0, 0]);
    expect((await format.compact(c.manifest)).manifest).toBe(c.manifest);
    // Chunks of a version list base and delta (GC and caches rely on it).
    expect((await format.chunks(a.manifest)).length).toBe(baseChunks.length + (await format.layout(a.manifest)).delta!.chunks.length);
  });

  it('a row diff of versions a few edits apart compares the delta chunks the edits rewrote, not the whole delta', async () => {
    // Rows the diff decodes through a row selection (the base rows under the delta keys it compares, and
    // the delta rows it compares), and rows of chunks it decodes whole, every column.
    let rowsDecoded = 0;
    let wholeRows = 0;
    const codec: ParquetCodec = {
      ...parquetCodec,
      decode: async (bytes, columns, rows) => {
        const ipc = await parquetCodec.decode(bytes, columns, rows);
        rowsDecoded += rows?.length ?? 0;
        if (!columns && !rows) wholeRows += tableFromIPC(ipc).numRows;
        return ipc;
      },
    };
    const { format } = await makeFormat({ targetChunkRows: 64, codec });
    const base = await format.write(customersTable(ids(4000).map((i) => customer(i))), { primaryKey: ['id'] });
    const v1 = await format.upsert(base.manifest, customersTable(ids(600, 13).map((i) => customer(i, 1))));
    const v2 = await format.deleteKeys(v1.manifest, keysTable([26n]));
    const v3 = await format.upsert(v2.manifest, customersTable([customer(2600n, 3), customer(4003n, 3)]));
    const delta = async (v: { manifest: string }) => (await format.layout(v.manifest)).delta!.chunks.map((c) => c.hash);
    const [d1, d3] = [await delta(v1), await delta(v3)];
    expect(d1.length).toBeGreaterThan(5);
    expect(d3.filter((h) => d1.includes(h)).length).toBeGreaterThan(d1.length / 2);
    rowsDecoded = 0;
    wholeRows = 0;
    const diff = await format.diffRows(v1.manifest, v3.manifest);
    // The 600-row delta's shared chunks are not compared: the base rows under the keys of rewritten ones are.
    expect(rowsDecoded).toBeLessThan(50); // 4; 131 when it read delta rows whole, all 300 base rows under a delta key before that
    // Neither version's 600-row delta run is decoded (only the two small runs since, 3 rows; every delta
    // row of both versions, 1,200+, before).
    expect(wholeRows).toBeLessThan(50);
    expect(diff.removed.map((r) => r.id)).toEqual([26n]);
    expect(diff.added.map((r) => r.id)).toEqual([4003n]);
    expect(diff.changed.map((c) => c.after.id)).toEqual([2600n]);
    // The same rows and values as the diff of the compacted versions, both ways.
    const [c1, c3] = [(await format.compact(v1.manifest)).manifest, (await format.compact(v3.manifest)).manifest];
    expect(diff).toEqual(await format.diffRows(c1, c3));
    expect(await format.diffRows(v3.manifest, v1.manifest)).toEqual(await format.diffRows(c3, c1));
    expect(await format.diffRows(base.manifest, v3.manifest)).toEqual(await format.diffRows(base.manifest, c3));
  });

  it('small tables, large changes and deltaMaxFraction 0 stay copy-on-write', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const small = await format.write(customersTable(ids(40).map((i) => customer(i))), { primaryKey: ['id'] });
    expect((await format.readManifest((await format.upsert(small.manifest, customersTable([customer(2n, 1)]))).manifest)).delta).toBeUndefined();
    const big = await format.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    const many = await format.upsert(big.manifest, customersTable(ids(500, 4).map((i) => customer(i, 1))));
    expect((await format.readManifest(many.manifest)).delta).toBeUndefined();
    const off = (await makeFormat({ targetChunkRows: 64, deltaMaxFraction: 0 })).format;
    const b2 = await off.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    expect((await off.readManifest((await off.upsert(b2.manifest, customersTable([customer(2n, 1)]))).manifest)).formatVersion).toBe(1);
  });

  it('rejects bad input with typed codes', async () => {
    const { format, chunks } = await makeFormat({ targetChunkRows: 64 });
    const w = await format.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    const u = await format.upsert(w.manifest, customersTable([customer(5n, 1)]));
    // Inserts check the logical table: a key in the base only, a key in the delta, and a deleted key.
    expect(await code(format.append(u.manifest, customersTable([customer(10n)])))).toBe(ErrorCode.DuplicateKey);
    expect(await code(format.append(u.manifest, customersTable([customer(5n)])))).toBe(ErrorCode.DuplicateKey);
    const d = await format.deleteKeys(u.manifest, keysTable([10n]));
    expect(await code(format.append(d.manifest, customersTable([customer(10n, 3)])))).toBe('resolved');
    const withReserved = new Table({ id: vectorFromArray([1n]), [DELTA_DELETED_COLUMN]: vectorFromArray([true], new Bool()) });
    expect(await code(format.write(withReserved, { primaryKey: ['id'] }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.addColumn(u.manifest, { name: DELTA_DELETED_COLUMN, type: 'bool' }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(makeFormat({ deltaMaxFraction: 2 }))).toBe(ErrorCode.InvalidArgument);
    // Corrupt delta metadata names the manifest.
    const m = await format.readManifest(u.manifest);
    const put = async (v: unknown) => chunks.put(new TextEncoder().encode(JSON.stringify(v)));
    for (const bad of [
      { ...m, formatVersion: 1 },
      { ...m, delta: undefined },
      { ...m, delta: { ...m.delta, rows: m.delta!.rows + 1 } },
      { ...m, delta: { ...m.delta, deletes: 5 } },
      { ...m, rows: m.rows + 5 },
    ]) expect(await code(format.read(await put(bad)))).toBe(ErrorCode.CorruptMetadata);
  });
});
