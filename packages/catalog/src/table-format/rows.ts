import { makeData, RecordBatch, Struct, Table, tableFromIPC, TimeUnit, Type } from 'apache-arrow';
import type { TimestampMillisecond } from 'apache-arrow';
import { arrowSchema, type ManifestSchema } from './column-types.js';

/**
 * Rows as plain JS objects, exactly as Arrow JS's `table.get(i).toJSON()` gives them (the same values
 * `read(...).toArray()` shows): int64/uint64 as bigint, other integers and floats as numbers,
 * date32 and timestamps as epoch milliseconds (numbers), utf8 as strings, binary as Uint8Array,
 * null as null.
 */
export function plainRows(table: Table): Array<Record<string, unknown>> {
  const cols = columnArrays(table);
  const out: Array<Record<string, unknown>> = new Array(table.numRows);
  for (let i = 0; i < out.length; i++) out[i] = rowOf(cols, i);
  return out;
}

/** A table's columns as indexable arrays of `plainRows` values (no per-row objects). */
export interface Columns {
  readonly length: number;
  readonly names: readonly string[];
  readonly values: ReadonlyArray<ArrayLike<unknown>>;
}

export function columnArrays(table: Table): Columns {
  const values = table.schema.fields.map((f) => {
    const v = table.getChild(f.name)!;
    // Typed fast paths where Arrow JS's `toArray()` holds exactly what `get(i)` returns; else iterate.
    if (v.nullCount === 0) {
      const t = f.type.typeId;
      if (t === Type.Int || t === Type.Float || t === Type.Utf8 || t === Type.Bool) return v.toArray() as ArrayLike<unknown>;
      if (t === Type.Timestamp && (f.type as TimestampMillisecond).unit === TimeUnit.MILLISECOND) {
        const raw = v.toArray() as BigInt64Array;
        const ms = new Float64Array(raw.length);
        for (let i = 0; i < raw.length; i++) ms[i] = Number(raw[i]!);
        return ms;
      }
    }
    return [...v] as unknown[];
  });
  return { length: table.numRows, names: table.schema.fields.map((f) => f.name), values };
}

/**
 * Chosen rows of several tables (flat (table, row) pairs) as columns of `plainRows` values: a few rows
 * out of large decoded chunks without converting whole columns.
 */
export function pickColumns(tables: readonly Table[], picks: Uint32Array, names: readonly string[]): Columns {
  const n = picks.length / 2;
  const values = names.map((name) => {
    const vecs = tables.map((t) => t.getChild(name));
    const out = new Array<unknown>(n);
    for (let k = 0; k < n; k++) out[k] = vecs[picks[2 * k]!]?.get(picks[2 * k + 1]!) ?? null;
    return out;
  });
  return { length: n, names, values };
}

export function rowOf(cols: Columns, i: number): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let c = 0; c < cols.names.length; c++) row[cols.names[c]!] = cols.values[c]![i] ?? null;
  return row;
}

/** Decoded chunk tables (IPC from the codec, or tables) as one table with the manifest's column types and order. */
export function concatDecoded(schema: ManifestSchema, columns: readonly string[], ipcs: ReadonlyArray<Uint8Array | Table>): Table {
  const target = arrowSchema(schema, columns);
  const batches: RecordBatch[] = [];
  const type = new Struct(target.fields);
  for (const ipc of ipcs) {
    // Re-labelled with the target schema: Arrow JS wants identical schema objects (nullability, metadata).
    for (const b of (ipc instanceof Table ? ipc : tableFromIPC(ipc)).select(columns as string[]).batches) {
      batches.push(new RecordBatch(target, makeData({ type, length: b.numRows, nullCount: 0, children: b.data.children })));
    }
  }
  return new Table(target, batches);
}

/** Equality of two cell values as `plainRows` gives them. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  return false;
}
