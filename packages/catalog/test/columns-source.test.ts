// Rows handed to the codec as column buffers encode to the same bytes as the same rows as an IPC stream.
import { describe, expect, it } from 'vitest';
import {
  Binary, Bool, DateDay, Float32, Float64, Int16, Int32, Int64, Int8, Table, TimestampMicrosecond, TimestampMillisecond,
  Uint16, Uint32, Uint64, Uint8, Utf8, tableFromArrays, tableToIPC, vectorFromArray,
} from 'apache-arrow';
import { parquetCodec } from '../src/index.js';
import { chunkSource, columnsSource } from '../src/table-format/columns-source.js';

/** Every column type, nulls in each (every third row), `n` rows. */
function allTypes(n: number, seed: number): Table {
  const pick = <T>(f: (k: number) => T) => Array.from({ length: n }, (_, k) => ((k + seed) % 3 === 0 ? null : f(k)));
  return new Table({
    id: vectorFromArray(Array.from({ length: n }, (_, k) => BigInt(k)), new Int64()),
    b: vectorFromArray(pick((k) => k % 2 === 0), new Bool()),
    i8: vectorFromArray(pick((k) => (k % 256) - 128), new Int8()),
    i16: vectorFromArray(pick((k) => -k * 7), new Int16()),
    i32: vectorFromArray(pick((k) => k * 1000 - seed), new Int32()),
    i64: vectorFromArray(pick((k) => (k % 2 ? -(2n ** 63n) : BigInt(k))), new Int64()),
    u8: vectorFromArray(pick((k) => k % 256), new Uint8()),
    u16: vectorFromArray(pick((k) => k % 65_536), new Uint16()),
    u32: vectorFromArray(pick((k) => 4_294_967_295 - k), new Uint32()),
    u64: vectorFromArray(pick((k) => 2n ** 64n - 1n - BigInt(k)), new Uint64()),
    f32: vectorFromArray(pick((k) => k / 4), new Float32()),
    f64: vectorFromArray(pick((k) => k * 1e-3 + seed), new Float64()),
    s: vectorFromArray(pick((k) => (k % 5 === 0 ? '' : `ü😀-${k}`)), new Utf8()),
    bin: vectorFromArray(pick((k) => Uint8Array.from({ length: k % 6 }, (_, j) => (k + j) % 256)), new Binary()),
    d: vectorFromArray(pick((k) => new Date(Date.UTC(1960 + (k % 90), 1, 28))), new DateDay()),
    tms: vectorFromArray(pick((k) => 1_700_000_000_000 + k * 1000), new TimestampMillisecond()),
    tus: vectorFromArray(pick((k) => -1_000_000_123 + k), new TimestampMicrosecond()),
  });
}

/** The chunks' bytes in both layouts (base chunks and merge-on-read delta chunks). */
const bytesOf = async (sources: Parameters<typeof parquetCodec.buildChunks>[0], rows: number) => {
  const cuts = Uint32Array.of(Math.ceil(rows / 2), rows);
  const out: string[] = [];
  for (const layout of ['base', 'delta'] as const) {
    for (const c of await parquetCodec.buildChunks(sources, null, cuts, { layout })) out.push(Buffer.from(c.bytes).toString('base64'));
  }
  return out;
};

describe('column buffers as a codec source', () => {
  it('encode every column type, nulls and several record batches to the same bytes as the IPC stream', async () => {
    const one = allTypes(300, 1);
    const two = allTypes(200, 2);
    const batched = new Table([...one.batches, ...two.batches]);
    expect(batched.batches.length).toBe(2);
    for (const t of [one, batched]) {
      const cols = columnsSource(t);
      expect(cols?.types).toEqual(['int64', 'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64', 'utf8', 'binary', 'date32', 'timestamp_ms', 'timestamp_us']);
      expect(await bytesOf([cols!], t.numRows)).toEqual(await bytesOf([tableToIPC(t, 'stream')], t.numRows));
    }
    // Mixed with other sources, through picks: rows of both in one chunk.
    const picks = Uint32Array.of(1, 0, 0, 1, 1, 2);
    const viaColumns = await parquetCodec.buildChunks([tableToIPC(two, 'stream'), columnsSource(one)!], picks, Uint32Array.of(3));
    const viaIpc = await parquetCodec.buildChunks([tableToIPC(two, 'stream'), tableToIPC(one, 'stream')], picks, Uint32Array.of(3));
    expect(Buffer.from(viaColumns[0]!.bytes).equals(Buffer.from(viaIpc[0]!.bytes))).toBe(true);
  });

  it('falls back to the IPC stream for layouts it does not hand over: dictionaries, slices', () => {
    const dict = tableFromArrays({ s: ['a', 'b', 'a'] });
    expect(columnsSource(dict)).toBeUndefined();
    expect(chunkSource(dict)).toBeInstanceOf(Uint8Array);
    const sliced = allTypes(10, 0).slice(3, 7);
    expect(columnsSource(sliced)).toBeUndefined();
    expect(chunkSource(sliced)).toBeInstanceOf(Uint8Array);
    expect(chunkSource(allTypes(10, 0))).not.toBeInstanceOf(Uint8Array);
  });

  it('refuses buffers that do not hold the rows they claim', async () => {
    const cols = columnsSource(allTypes(50, 0))!;
    const broken = { ...cols, batches: [cols.batches[0]!.map((c, i) => (i === 4 ? { ...c, values: c.values.subarray(0, 8) } : c))] };
    await expect(parquetCodec.buildChunks([broken], null, Uint32Array.of(50))).rejects.toMatchObject({ message: expect.stringContaining('column buffers') });
    const badUtf8 = { ...cols, batches: [cols.batches[0]!.map((c, i) => (i === 12 ? { ...c, values: new Uint8Array(c.values.byteLength).fill(0xff) } : c))] };
    await expect(parquetCodec.buildChunks([badUtf8], null, Uint32Array.of(50))).rejects.toThrow();
  });
});
