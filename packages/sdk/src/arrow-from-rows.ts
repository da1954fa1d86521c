import {
  Binary, Bool, DataType, DateDay, Field, Float32, Float64, Int16, Int32, Int64, Int8, Schema, Table, TimestampMillisecond,
  Uint16, Uint32, Uint64, Uint8, Utf8, vectorFromArray, type Vector,
} from 'apache-arrow';
import type { QueryColumn } from './query-result.js';

/**
 * Rebuilds an Arrow table from JSON rows and DuckDB column types: how a remote result (sent as
 * JSON, so its `rows` are byte-for-byte the embedded ones) still offers `toArrow()` with typed columns.
 * Types with no direct Arrow match (HUGEINT, DECIMAL, LIST, STRUCT, …) come back as Utf8 or Float64.
 */
export function arrowFromRows(columns: readonly QueryColumn[], rows: ReadonlyArray<Record<string, unknown>>): Table {
  const fields: Field[] = [];
  const vectors: Record<string, Vector> = {};
  for (const col of columns) {
    const type = arrowType(col.type);
    const values = rows.map((r) => convert(r[col.name], type));
    fields.push(new Field(col.name, type, true));
    vectors[col.name] = vectorFromArray(values, type);
  }
  if (rows.length === 0) return new Table(new Schema(fields));
  return new Table(vectors);
}

function arrowType(duck: string): DataType {
  const t = duck.toUpperCase();
  if (t === 'BOOLEAN') return new Bool();
  if (t === 'TINYINT') return new Int8();
  if (t === 'SMALLINT') return new Int16();
  if (t === 'INTEGER') return new Int32();
  if (t === 'BIGINT') return new Int64();
  if (t === 'UTINYINT') return new Uint8();
  if (t === 'USMALLINT') return new Uint16();
  if (t === 'UINTEGER') return new Uint32();
  if (t === 'UBIGINT') return new Uint64();
  if (t === 'FLOAT') return new Float32();
  if (t === 'DOUBLE' || t.startsWith('DECIMAL')) return new Float64();
  if (t === 'DATE') return new DateDay();
  if (t.startsWith('TIMESTAMP')) return new TimestampMillisecond();
  if (t === 'BLOB') return new Binary();
  return new Utf8();
}

function convert(value: unknown, type: DataType): unknown {
  if (value === null || value === undefined) return null;
  if (type instanceof Int64 || type instanceof Uint64) return BigInt(value as number | string);
  if (type instanceof DateDay) return new Date(`${String(value)}T00:00:00Z`);
  if (type instanceof TimestampMillisecond) return new Date(value as string).getTime();
  if (type instanceof Binary) return Uint8Array.from(Buffer.from(String(value), 'base64'));
  if (type instanceof Utf8) return typeof value === 'string' ? value : JSON.stringify(value);
  return value;
}
