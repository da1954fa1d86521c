import { describe, expect, it } from 'vitest';
import {
  Binary, DateDay, Float32, Int16, Int32, Table, TimestampMicrosecond, Uint32, Uint64, Utf8, vectorFromArray,
} from 'apache-arrow';
import { ErrorCode } from '@armillaria/core';
import { ParquetTableFormat } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, plain, rowsOf } from './table-format-helpers.js';

const ids = (n: number, from = 0): bigint[] => Array.from({ length: n }, (_, i) => BigInt(from + i));

describe('ParquetTableFormat: determinism', () => {
  it('gives the same chunks and manifest for the same rows, across instances and after a round trip', async () => {
    const rows = ids(3000).map((i) => customer(i));
    const a = await makeFormat({ targetChunkRows: 256 });
    const b = await makeFormat({ targetChunkRows: 256 });
    const wa = await a.format.write(customersTable(rows), { primaryKey: ['id'] });
    const wb = await b.format.write(customersTable([...rows].reverse()), { primaryKey: ['id'] });
    expect(wb.manifest).toBe(wa.manifest);
    expect((await b.format.chunks(wb.manifest)).map((c) => c.hash)).toEqual((await a.format.chunks(wa.manifest)).map((c) => c.hash));
    // Decode everything and encode it again: the same bytes.
    const back = await a.format.read(wa.manifest);
    const again = await b.format.write(back, { primaryKey: ['id'] });
    expect(again.manifest).toBe(wa.manifest);
    expect(again.chunksWritten).toBe(0);
    // Unkeyed too.
    const ua = await a.format.write(customersTable(rows));
    const ub = await b.format.write(await a.format.read(ua.manifest));
    expect(ub.manifest).toBe(ua.manifest);
  });

  it('matches the golden hashes of format version 1 (a change here changes every stored table)', async () => {
    // Catches silent format drift: a parquet crate upgrade, a writer setting, the key hash or the chunker.
    const { format } = await makeFormat({ targetChunkRows: 8 });
    const w = await format.write(customersTable(ids(40).map((i) => customer(i))), { primaryKey: ['id'] });
    const list = await format.chunks(w.manifest);
    expect(list.map((c) => `${c.hash.slice(0, 16)}:${c.rows}`)).toEqual([
      // Since base chunks delta-encode their key (FORMAT.md, "Column encodings of base chunks").
      '84042000a8a1a6a5:4', 'cb793154d8be2200:15', '1b9d2262267aa9c3:10', 'e322ecf0aea48721:3', 'a18e03f020112516:8',
    ]);
    expect(w.manifest).toBe('fa1d121a43eb4d14ae294e7c67872d429ca4eb2aa79187363c8701083090041c');
  });

  it('stores an identical table once', async () => {
    const { format, objects } = await makeFormat({ targetChunkRows: 128 });
    const t = customersTable(ids(1000).map((i) => customer(i)));
    const first = await format.write(t, { primaryKey: ['id'] });
    let bytes = 0;
    for await (const o of objects.list('')) bytes += o.size;
    const second = await format.write(t, { primaryKey: ['id'] });
    let after = 0;
    for await (const o of objects.list('')) after += o.size;
    expect(second.manifest).toBe(first.manifest);
    expect(second.bytesWritten).toBe(0);
    expect(after).toBe(bytes);
  });
});

describe('ParquetTableFormat: values', () => {
  it('round-trips every column type, with projection and nulls', async () => {
    const { format } = await makeFormat();
    const t = new Table({
      i16: vectorFromArray([1, -2, null], new Int16()),
      u32: vectorFromArray([4_000_000_000, 0, 7], new Uint32()),
      u64: vectorFromArray([18_000_000_000_000_000_000n, 1n, null], new Uint64()),
      f32: vectorFromArray([1.5, null, -3], new Float32()),
      s: vectorFromArray(['a', null, 'ü😀'], new Utf8()),
      bin: vectorFromArray([Uint8Array.of(1, 2), null, Uint8Array.of()], new Binary()),
      d: vectorFromArray([new Date(Date.UTC(2024, 1, 29)), null, new Date(0)], new DateDay()),
      tus: vectorFromArray([1_700_000_000_123, null, 0], new TimestampMicrosecond()),
    });
    const w = await format.write(t);
    const back = await format.read(w.manifest);
    expect(rowsOf(back)).toEqual(rowsOf(t));
    expect(back.schema.fields.map((f) => String(f.type))).toEqual(t.schema.fields.map((f) => String(f.type)));
    const some = await format.read(w.manifest, { columns: ['s', 'i16'] });
    expect(some.schema.fields.map((f) => f.name)).toEqual(['s', 'i16']);
    expect(rowsOf(some)).toEqual(rowsOf(t).map((r) => ({ s: r.s, i16: r.i16 })));
    const m = await format.readManifest(w.manifest);
    expect(m.schema.fields.map((f) => f.type)).toEqual(['int16', 'uint32', 'uint64', 'float32', 'utf8', 'binary', 'date32', 'timestamp_us']);
    const stats = (await format.chunks(w.manifest))[0]!.stats;
    expect(stats.u32).toEqual({ min: 0, max: 4_000_000_000, nullCount: 0 });
    expect(stats.u64).toEqual({ min: '1', max: '18000000000000000000', nullCount: 1 });
    expect(stats.d).toEqual({ min: '1970-01-01', max: '2024-02-29', nullCount: 1 });
    expect(stats.s).toEqual({ min: 'a', max: 'ü😀', nullCount: 1 });
  });

  it('prunes chunks by column stats', async () => {
    const { format } = await makeFormat({ targetChunkRows: 100 });
    const w = await format.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    const all = await format.chunks(w.manifest);
    const t = await format.read(w.manifest, { range: { column: 'id', min: 500n, max: 520n } });
    expect(t.numRows).toBeLessThan(2000);
    const got = rowsOf(t).map((r) => r.id as bigint).filter((id) => id >= 500n && id <= 520n);
    expect(got).toEqual(ids(21, 500));
    expect(all.length).toBeGreaterThan(5);
  });

  it('adds a column, null or with a default, keeping chunk boundaries', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const w = await format.write(customersTable(ids(500).map((i) => customer(i))), { primaryKey: ['id'] });
    const a = await format.addColumn(w.manifest, { name: 'tier', type: 'int32', defaultValue: 3 });
    const b = await format.addColumn(a.manifest, { name: 'note', type: 'utf8' });
    const rows = rowsOf(await format.read(b.manifest));
    expect(rows[7]).toEqual({ ...plain(customer(7n)), tier: 3, note: null });
    const before = await format.chunks(w.manifest);
    const after = await format.chunks(b.manifest);
    expect(after.map((c) => [c.rows, c.firstKey, c.lastKey])).toEqual(before.map((c) => [c.rows, c.firstKey, c.lastKey]));
    // Upserts keep working with the new schema.
    const one = customersTable([customer(3n, 1)]);
    const cols = Object.fromEntries(one.schema.fields.map((f) => [f.name, one.getChild(f.name)!]));
    const up = await format.upsert(b.manifest, new Table({ ...cols, tier: vectorFromArray([9], new Int32()), note: vectorFromArray(['x'], new Utf8()) }));
    expect(rowsOf(await format.read(up.manifest))[3]).toEqual({ ...plain(customer(3n, 1)), tier: 9, note: 'x' });
  });
});

describe('ParquetTableFormat: interoperability', () => {
  it('writes chunks DuckDB reads with the same values and types', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { format, chunks } = await makeFormat();
    const rows = ids(1000).map((i) => customer(i));
    const w = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const [info] = await format.chunks(w.manifest);
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-tf-'));
    try {
      const file = join(dir, 'chunk.parquet');
      await writeFile(file, await chunks.get(info!.hash));
      const db = await DuckDBInstance.create(':memory:');
      const conn = await db.connect();
      const r = await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n, sum(id)::BIGINT AS s, min(name) AS mn, count(score)::INTEGER AS scores,
        epoch_ms(max(ts))::BIGINT AS ts, count(*) FILTER (WHERE active)::INTEGER AS act, typeof(any_value(ts)) AS tst FROM read_parquet('${file}')`);
      const [row] = r.getRowObjectsJson();
      conn.disconnectSync();
      expect(row).toEqual({
        n: 1000, s: '499500', mn: [...rows.map((x) => x.name)].sort()[0], scores: rows.filter((x) => x.score !== null).length,
        ts: String(Math.max(...rows.map((x) => x.ts))), act: rows.filter((x) => x.active).length, tst: 'TIMESTAMP',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ParquetTableFormat: chunking parameters', () => {
  it('edits keep the target rows the table was written with, whatever the editing instance says', async () => {
    const { format, chunks, hasher } = await makeFormat({ targetChunkRows: 64 });
    const w = await format.write(customersTable(ids(5000).map((i) => customer(i))), { primaryKey: ['id'] });
    expect((await format.readManifest(w.manifest)).targetChunkRows).toBe(64);
    const other = new ParquetTableFormat({ chunks, hasher, targetChunkRows: 1000 });
    const u = await other.upsert(w.manifest, customersTable([customer(2500n, 1)]));
    expect(u.chunksWritten).toBeLessThanOrEqual(2);
    expect((await other.readManifest(u.manifest)).targetChunkRows).toBe(64);
    expect(() => new ParquetTableFormat({ chunks, targetChunkRows: 1 })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
});

describe('ParquetTableFormat: errors', () => {
  it('rejects bad input with typed codes', async () => {
    const { format, chunks } = await makeFormat();
    const rows = customersTable(ids(10).map((i) => customer(i)));
    const keyed = await format.write(rows, { primaryKey: ['id'] });
    const unkeyed = await format.write(rows);
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);
    expect(await code(format.write(customersTable([customer(1n), customer(1n)]), { primaryKey: ['id'] }))).toBe(ErrorCode.DuplicateKey);
    expect(await code(format.append(keyed.manifest, customersTable([customer(3n)])))).toBe(ErrorCode.DuplicateKey);
    expect(await code(format.upsert(keyed.manifest, customersTable([customer(50n), customer(50n)])))).toBe(ErrorCode.DuplicateKey);
    expect(await code(format.upsert(unkeyed.manifest, rows))).toBe(ErrorCode.PrimaryKeyRequired);
    expect(await code(format.deleteKeys(unkeyed.manifest, keysTable([1n])))).toBe(ErrorCode.PrimaryKeyRequired);
    // A partial upsert (some columns) must hold the key; kept cells name non-key columns, one byte per row.
    expect(await code(format.upsert(keyed.manifest, rows.select(['name'])))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.upsert(keyed.manifest, rows.select(['id', 'name']), { kept: { id: new Uint8Array(10) } }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.upsert(keyed.manifest, rows.select(['id', 'name']), { kept: { nope: new Uint8Array(10) } }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.upsert(keyed.manifest, rows.select(['id', 'name']), { kept: { name: new Uint8Array(3) } }))).toBe(ErrorCode.InvalidArgument);
    expect(await code(format.append(unkeyed.manifest, new Table({ ...Object.fromEntries(rows.schema.fields.map((f) => [f.name, rows.getChild(f.name)!])), extra: vectorFromArray([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], new Int32()) })))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.upsert(keyed.manifest, new Table({ id: vectorFromArray([1], new Int32()) })))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.write(rows, { primaryKey: ['nope'] }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.write(rows, { primaryKey: ['score'] }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.addColumn(keyed.manifest, { name: 'name', type: 'utf8' }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.addColumn(keyed.manifest, { name: 'x', type: 'decimal' as never }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.read(keyed.manifest, { columns: ['nope'] }))).toBe(ErrorCode.SchemaMismatch);
    expect(await code(format.readManifest('not-a-hash'))).toBe(ErrorCode.InvalidHash);
    const nullKey = new Table({ id: vectorFromArray([1n, null], new (await import('apache-arrow')).Int64()) });
    expect(await code(format.write(nullKey, { primaryKey: ['id'] }))).toBe(ErrorCode.SchemaMismatch);
    const missing = 'f'.repeat(64);
    expect(await code(format.readManifest(missing))).toBe(ErrorCode.ChunkNotFound);
    void chunks;
  });

  it('detects corrupt manifests and pages', async () => {
    const { format, chunks } = await makeFormat();
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string; details?: { hash?: string } }) => [e.code, e.details?.hash]);
    const notJson = await chunks.put(new TextEncoder().encode('{"formatVersion":1,'));
    expect(await code(format.readManifest(notJson))).toEqual([ErrorCode.CorruptMetadata, notJson]);
    const wrongShape = await chunks.put(new TextEncoder().encode('{"formatVersion":1,"rows":3}'));
    expect(await code(format.readManifest(wrongShape))).toEqual([ErrorCode.CorruptMetadata, wrongShape]);
    const w = await format.write(customersTable(ids(5).map((i) => customer(i))));
    const m = await format.readManifest(w.manifest);
    const lying = await chunks.put(new TextEncoder().encode(JSON.stringify({ ...m, rows: m.rows + 1 })));
    expect(await code(format.read(lying))).toEqual([ErrorCode.CorruptMetadata, lying]);
    const badChunk = await chunks.put(new TextEncoder().encode(JSON.stringify({ ...m, chunks: [{ ...m.chunks![0], hash: '../x' }] })));
    expect(await code(format.chunks(badChunk))).toEqual([ErrorCode.CorruptMetadata, badChunk]);
    const badPage = await chunks.put(new TextEncoder().encode(JSON.stringify({ ...m, chunks: undefined, pages: [{ hash: notJson, rows: m.rows, chunks: 1 }] })));
    expect(await code(format.chunks(badPage))).toEqual([ErrorCode.CorruptMetadata, notJson]);
  });
});
