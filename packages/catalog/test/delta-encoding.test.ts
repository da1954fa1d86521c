// Delta chunks are written with Parquet delta encodings (FORMAT.md, "Delta"): what their footers say,
// that both readers (the native decoder and DuckDB) give back every column type, and determinism.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Binary, Bool, DateDay, Float32, Float64, Int16, Int32, Int64, Int8, Table, TimestampMicrosecond, TimestampMillisecond,
  Uint16, Uint32, Uint64, Uint8, Utf8, vectorFromArray,
} from 'apache-arrow';
import { ErrorCode } from '@armillaria/core';
import { tempDir } from '@armillaria/testkit';
import { parquetCodec, type ParquetCodec } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, rowsOf } from './table-format-helpers.js';

const dir = tempDir('armillaria-delta-enc');
afterAll(() => dir.cleanup());
let files = 0;

/** Runs SQL over a chunk's bytes written to a file; `$file` in the SQL names it. */
async function duck(bytes: Uint8Array, sql: string): Promise<Array<Record<string, unknown>>> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const file = join(dir.path, `chunk-${files++}.parquet`);
  await writeFile(file, bytes);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(sql.replaceAll('$file', `'${file}'`))).getRowObjectsJson() as Array<Record<string, unknown>>;
  } finally {
    conn.disconnectSync();
  }
}

/**
 * Column -> the encodings of its values (dictionary ones included) from the Parquet footer, without the
 * RLE every nullable column lists for its definition levels.
 */
async function encodings(bytes: Uint8Array): Promise<Record<string, string>> {
  const rows = await duck(bytes, `SELECT path_in_schema AS c, encodings AS e FROM parquet_metadata($file)`);
  return Object.fromEntries(rows.map((r) => [r.c as string, (r.e as string).split(', ').filter((e) => e !== 'RLE').join()]));
}

const ids = (n: number, step = 2) => Array.from({ length: n }, (_, i) => BigInt(i * step));

/** One row per key of every column type, with nulls and each type's extremes. */
function allTypes(keys: readonly bigint[], version: number): Table {
  const n = keys.length;
  const pick = <T>(f: (k: number, i: number) => T) => keys.map((k, i) => ((Number(k) + version) % 5 === 3 ? null : f(Number(k), i)));
  return new Table({
    id: vectorFromArray([...keys], new Int64()),
    b: vectorFromArray(pick((k) => (k + version) % 2 === 0), new Bool()),
    i8: vectorFromArray(pick((k) => (k % 2 ? -128 : 127) - version), new Int8()),
    i16: vectorFromArray(pick((k) => -k * 7 + version), new Int16()),
    i32: vectorFromArray(pick((k) => (k % 3 ? -2_147_483_648 : 2_147_483_647 - version)), new Int32()),
    i64: vectorFromArray(pick((k) => (k % 2 ? -(2n ** 63n) : 2n ** 63n - 1n - BigInt(version))), new Int64()),
    u8: vectorFromArray(pick((k) => (k * 37 + version) % 256), new Uint8()),
    u16: vectorFromArray(pick((k) => (k % 2 ? 65_535 : version)), new Uint16()),
    u32: vectorFromArray(pick((k) => (k % 2 ? 4_294_967_295 : k + version)), new Uint32()),
    u64: vectorFromArray(pick((k) => (k % 2 ? 2n ** 64n - 1n : BigInt(k + version))), new Uint64()),
    f32: vectorFromArray(pick((k) => k / 4 - version), new Float32()),
    f64: vectorFromArray(pick((k) => (k % 4 === 1 ? -0.1 * k : 1e300 / (k + 1)) + version), new Float64()),
    s: vectorFromArray(pick((k) => (k % 4 === 2 ? '' : `ü😀-${k}-v${version}`)), new Utf8()),
    bin: vectorFromArray(pick((k) => Uint8Array.from({ length: k % 6 }, (_, j) => (k * 31 + j + version) % 256)), new Binary()),
    d: vectorFromArray(pick((k) => new Date(Date.UTC(1960 + (k % 90), 1, 28 + version))), new DateDay()),
    tms: vectorFromArray(pick((k) => 1_700_000_000_000 + k * 1000 + version), new TimestampMillisecond()),
    tus: vectorFromArray(pick((k) => (k % 2 ? -1_000_000_123 : 1_700_000_000_123) + version), new TimestampMicrosecond()),
  }).slice(0, n);
}

describe('delta chunk encodings', () => {
  it('delta chunks use delta encodings and no dictionaries; base chunks delta-encode only their key', async () => {
    const { format, chunks } = await makeFormat({ targetChunkRows: 64 });
    const w = await format.write(customersTable(ids(4000).map((i) => customer(i))), { primaryKey: ['id'] });
    const u = await format.upsert(w.manifest, customersTable(ids(40, 200).map((i) => customer(i, 1))));
    const layout = await format.layout(u.manifest);
    expect(layout.delta!.chunks.length).toBeGreaterThan(0);
    const delta = await encodings(await chunks.get(layout.delta!.chunks[0]!.hash));
    expect(delta).toEqual({
      id: 'DELTA_BINARY_PACKED', __arm_unchanged: 'DELTA_BYTE_ARRAY', name: 'DELTA_BYTE_ARRAY', score: 'PLAIN', ts: 'DELTA_BINARY_PACKED', active: 'PLAIN', __arm_deleted: 'PLAIN',
    });
    // Base chunks: the key the rows are sorted by is delta-encoded; the other columns of these small chunks
    // fit their dictionaries (an integer column overflowing it would continue in DELTA_BINARY_PACKED).
    const base = await encodings(await chunks.get(layout.base[0]!.hash));
    const { id, ...rest } = base;
    expect(id).toBe('DELTA_BINARY_PACKED');
    expect(rest).toEqual({ name: 'PLAIN,RLE_DICTIONARY', score: 'PLAIN,RLE_DICTIONARY', ts: 'PLAIN,RLE_DICTIONARY', active: 'PLAIN' }); // booleans have no dictionary
  });

  it('round-trips every column type, nulls and extremes through a delta, by the native decoder and DuckDB', async () => {
    const { format, chunks } = await makeFormat({ targetChunkRows: 8 });
    const keys = ids(400);
    const w = await format.write(allTypes(keys, 0), { primaryKey: ['id'] });
    expect((await format.chunks(w.manifest)).length).toBeGreaterThan(2);
    const changed = keys.filter((_, i) => i % 25 === 1);
    const u = await format.upsert(w.manifest, allTypes([...changed, 1n, 3n], 1));
    const d = await format.deleteKeys(u.manifest, keysTable([0n, 4n, 6n]));
    // All of it in the delta (below deltaMaxFraction): 16 updates, 2 inserts, 3 tombstones.
    expect((await format.readManifest(d.manifest)).delta).toMatchObject({ rows: changed.length + 5, deletes: 3 });
    const model = new Map(rowsOf(allTypes(keys, 0)).map((r) => [r.id as bigint, r]));
    for (const r of rowsOf(allTypes([...changed, 1n, 3n], 1))) model.set(r.id as bigint, r);
    for (const k of [0n, 4n, 6n]) model.delete(k);
    const want = [...model.values()].sort((a, b) => ((a.id as bigint) < (b.id as bigint) ? -1 : 1));
    const back = await format.read(d.manifest);
    expect(rowsOf(back)).toEqual(want);
    expect(back.schema.fields.map((f) => String(f.type))).toEqual(allTypes(keys, 0).schema.fields.map((f) => String(f.type)));
    // DuckDB reads the same delta rows from the delta chunks (the query gateway's path).
    const live = want.filter((r) => changed.includes(r.id as bigint) || r.id === 1n || r.id === 3n);
    const got: Array<Record<string, unknown>> = [];
    const layout = await format.layout(d.manifest);
    const enc = await encodings(await chunks.get(layout.delta!.chunks[0]!.hash));
    expect(enc).toMatchObject({ i8: 'DELTA_BINARY_PACKED', u64: 'DELTA_BINARY_PACKED', d: 'DELTA_BINARY_PACKED', tus: 'DELTA_BINARY_PACKED', bin: 'DELTA_BYTE_ARRAY', f32: 'PLAIN' });
    for (const c of layout.delta!.chunks) {
      got.push(...await duck(await chunks.get(c.hash), `SELECT id::VARCHAR AS id, i8, i64::VARCHAR AS i64, u32, u64::VARCHAR AS u64, s, hex(bin) AS bin,
        d::VARCHAR AS d, epoch_ms(tms)::VARCHAR AS tms, epoch_us(tus)::VARCHAR AS tus FROM read_parquet($file) WHERE NOT __arm_deleted`));
    }
    const hex = (b: unknown) => (b === null ? null : Buffer.from(b as Uint8Array).toString('hex').toUpperCase());
    const str = (v: unknown) => (v === null ? null : String(v));
    const iso = (v: unknown) => (v === null ? null : new Date(v as number).toISOString().slice(0, 10));
    expect(got).toEqual(live.map((r) => ({
      id: String(r.id), i8: r.i8, i64: str(r.i64), u32: r.u32, u64: str(r.u64), s: r.s, bin: hex(r.bin), d: iso(r.d), tms: str(r.tms), tus: str(r.tus === null ? null : Number(r.tus) * 1000),
    })));
  });

  it('is deterministic, pinned by golden delta chunk hashes, and still reads deltas written with base encodings', async () => {
    const run = async (codec?: ParquetCodec) => {
      const f = await makeFormat({ targetChunkRows: 8, ...(codec ? { codec } : {}) });
      const w = await f.format.write(customersTable(ids(40).map((i) => customer(i))), { primaryKey: ['id'] });
      const u = await f.format.upsert(w.manifest, customersTable([customer(3n, 1), customer(40n, 1), customer(41n, 1)]));
      return { ...f, u: u.manifest, delta: (await f.format.layout(u.manifest)).delta!.chunks.map((c) => `${c.hash.slice(0, 16)}:${c.rows}`) };
    };
    const a = await run();
    const b = await run();
    expect(b.u).toBe(a.u);
    expect(b.delta).toEqual(a.delta);
    // A change of a delta writer setting changes these (and needs a FORMAT.md note). Last change:
    // formatVersion 3 deltas carry __arm_unchanged (column-level updates).
    expect(a.delta).toEqual(['a13dd4626d3b0ca4:3']);
    // Deltas written before delta encodings existed (base encodings) stay readable and editable.
    const old = await run({ ...parquetCodec, buildChunks: (s, p, c, o) => parquetCodec.buildChunks(s, p, c, { ...o, layout: 'base' }) });
    expect(old.delta).not.toEqual(a.delta);
    const more = await old.format.upsert(old.u, customersTable([customer(5n, 2)]));
    const fresh = await a.format.upsert(a.u, customersTable([customer(5n, 2)]));
    expect(rowsOf(await old.format.read(more.manifest))).toEqual(rowsOf(await a.format.read(fresh.manifest)));
  });

  it('rejects an unknown layout with a typed error', async () => {
    const ipc = (await import('apache-arrow')).tableToIPC(customersTable([customer(1n)]), 'stream');
    await expect(parquetCodec.buildChunks([ipc], null, Uint32Array.of(1), { layout: 'columnar' as never })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const [ok] = await parquetCodec.buildChunks([ipc], null, Uint32Array.of(1), { layout: 'delta' });
    expect(ok!.rows).toBe(1);
  });
});

describe('parquetCodec.interleave (merge-on-read picks rows without a Parquet round trip)', () => {
  it('takes the picked rows of IPC and Parquet sources in pick order, projected to the columns asked', async () => {
    const { tableToIPC, tableFromIPC } = await import('apache-arrow');
    const a = tableToIPC(customersTable([customer(1n), customer(2n), customer(3n)]), 'stream');
    const [b] = await parquetCodec.buildChunks([tableToIPC(customersTable([customer(10n, 1), customer(11n, 1)]), 'stream')], null, Uint32Array.of(2));
    const picks = Uint32Array.of(1, 1, 0, 2, 0, 0, 1, 0);
    const all = tableFromIPC(await parquetCodec.interleave([a, b!.bytes], picks));
    const expected = [customer(11n, 1), customer(3n), customer(1n), customer(10n, 1)];
    expect(rowsOf(all)).toEqual(rowsOf(customersTable(expected)));
    // Built the way chunks are (buildChunks + decode), the same rows come back.
    const [built] = await parquetCodec.buildChunks([a, b!.bytes], picks, Uint32Array.of(4));
    expect(rowsOf(tableFromIPC(await parquetCodec.decode(built!.bytes)))).toEqual(rowsOf(all));
    const projected = tableFromIPC(await parquetCodec.interleave([a, b!.bytes], picks, ['name', 'id']));
    expect(projected.schema.fields.map((f) => f.name)).toEqual(['name', 'id']);
    expect(projected.toArray().map((r) => r.id)).toEqual([11n, 3n, 1n, 10n]);
  });

  it('rejects a pick out of range and an unknown column instead of reading past a source', async () => {
    const { tableToIPC } = await import('apache-arrow');
    const a = tableToIPC(customersTable([customer(1n)]), 'stream');
    await expect(parquetCodec.interleave([a], Uint32Array.of(0, 1))).rejects.toMatchObject({ code: ErrorCode.Internal, message: expect.stringContaining('out of range') });
    await expect(parquetCodec.interleave([a], Uint32Array.of(1, 0))).rejects.toMatchObject({ code: ErrorCode.Internal });
    await expect(parquetCodec.interleave([a], Uint32Array.of(0, 0), ['nope'])).rejects.toMatchObject({ code: ErrorCode.Internal });
  });
});
