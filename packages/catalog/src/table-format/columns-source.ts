import { DataType, tableToIPC, type Data, type Table } from 'apache-arrow';
import { columnTypeOf } from './column-types.js';
import type { ChunkSource, ColumnsSource } from './native-codec.js';
import type { ColumnType } from './table-format.js';

/** Bytes per value of the fixed-width types (bool: a bitmap; utf8, binary: offsets and bytes). */
const WIDTH: Partial<Record<ColumnType, number>> = {
  int8: 1, int16: 2, int32: 4, int64: 8, uint8: 1, uint16: 2, uint32: 4, uint64: 8,
  float32: 4, float64: 8, date32: 4, timestamp_ms: 8, timestamp_us: 8,
};

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * `table`'s rows for the codec: its column buffers as they are (the codec copies them into Arrow arrays
 * on its worker thread), or, where Arrow JS holds a column in another layout (a dictionary, a slice with
 * an offset, an unexpected buffer type), the table as an Arrow IPC stream. Writing the stream took
 * ~40 ms on the JS thread for 1M rows of 6 columns (42 MB), the codec's copy of the buffers far less.
 */
export function chunkSource(table: Table): ChunkSource {
  return columnsSource(table) ?? tableToIPC(table, 'stream');
}

/** The table's column buffers, or undefined when some column is not in the plain layout the codec reads. */
export function columnsSource(table: Table): ColumnsSource | undefined {
  const fields = table.schema.fields;
  const types: ColumnType[] = [];
  for (const f of fields) {
    if (DataType.isDictionary(f.type)) return undefined;
    const t = columnTypeOf(f.type);
    if (!t) return undefined;
    types.push(t);
  }
  const batches: ColumnsSource['batches'] = [];
  for (const batch of table.batches) {
    const cols: ColumnsSource['batches'][number] = [];
    for (let c = 0; c < fields.length; c++) {
      const col = columnBuffers(batch.data.children[c] as Data, types[c]!);
      if (!col) return undefined;
      cols.push(col);
    }
    batches.push(cols);
  }
  return { names: fields.map((f) => f.name), types, batches };
}

function columnBuffers(d: Data, type: ColumnType): ColumnsSource['batches'][number][number] | undefined {
  if (d.offset !== 0) return undefined;
  const nullCount = d.nullCount;
  const validity = nullCount > 0 ? (d.nullBitmap as Uint8Array | undefined) : undefined;
  if (nullCount > 0 && (!validity || validity.byteLength * 8 < d.length)) return undefined;
  const values = d.values as ArrayBufferView | undefined;
  if (!values) return undefined;
  const base = { length: d.length, nullCount, ...(validity ? { validity: bytesOf(validity) } : {}) };
  if (type === 'utf8' || type === 'binary') {
    const offsets = d.valueOffsets as ArrayBufferView | undefined;
    if (!(offsets instanceof Int32Array) || offsets.length < d.length + 1 || !(values instanceof Uint8Array)) return undefined;
    return { ...base, offsets: bytesOf(offsets), values: bytesOf(values) };
  }
  if (type === 'bool') return values instanceof Uint8Array && values.byteLength * 8 >= d.length ? { ...base, values } : undefined;
  const width = WIDTH[type]!;
  const perValue = (values as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT;
  if (perValue !== width || values.byteLength < width * d.length) return undefined;
  return { ...base, values: bytesOf(values) };
}
