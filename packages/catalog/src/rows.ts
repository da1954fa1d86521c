import {
  Binary, Bool, DateDay, Field, Float32, Float64, Int16, Int32, Int64, Int8, Schema, Table, TimestampMicrosecond,
  TimestampMillisecond, Type, Uint16, Uint32, Uint64, Uint8, Utf8, vectorFromArray, RecordBatch,
  type DataType,
} from 'apache-arrow';
import { SchemaMismatchError } from './errors.js';
import type { Rows, TableSchema } from './catalog-api.js';
import type { ColumnType, KeptCells, Manifest } from './table-format/table-format.js';

/**
 * The one place rows change shape: plain objects <-> Arrow, manifest type names <-> Arrow types, and
 * the JSON-safe form of values that leave the library as JSON (diffs, conflicts).
 */

export function columnTypeToArrow(type: ColumnType): DataType {
  switch (type) {
    case 'bool': return new Bool();
    case 'int8': return new Int8();
    case 'int16': return new Int16();
    case 'int32': return new Int32();
    case 'int64': return new Int64();
    case 'uint8': return new Uint8();
    case 'uint16': return new Uint16();
    case 'uint32': return new Uint32();
    case 'uint64': return new Uint64();
    case 'float32': return new Float32();
    case 'float64': return new Float64();
    case 'utf8': return new Utf8();
    case 'binary': return new Binary();
    case 'date32': return new DateDay();
    case 'timestamp_ms': return new TimestampMillisecond();
    case 'timestamp_us': return new TimestampMicrosecond();
    default: throw new SchemaMismatchError(`unsupported column type ${JSON.stringify(type)}`, { type: String(type) });
  }
}

export function schemaFromSpec(spec: TableSchema): Schema {
  if (spec instanceof Schema) return spec;
  if (!spec || !Array.isArray(spec.fields) || spec.fields.length === 0) {
    throw new SchemaMismatchError('a schema needs at least one field');
  }
  return new Schema(spec.fields.map((f) => new Field(f.name, columnTypeToArrow(f.type), f.nullable ?? true)));
}

export function schemaFromManifest(manifest: Manifest): Schema {
  return new Schema(manifest.schema.fields.map((f) => new Field(f.name, columnTypeToArrow(f.type), f.nullable)));
}

/**
 * The key columns of `keys` (an Arrow table or plain objects holding at least the primary key; other
 * columns are ignored, so callers may pass whole rows) in the table's key types: what a delete by key takes.
 */
export function keyTableOf(keys: Rows, manifest: Manifest): Table {
  const pk = manifest.primaryKey ?? [];
  const full = schemaFromManifest(manifest);
  const keySchema = new Schema(pk.map((k) => full.fields.find((f) => f.name === k) as Field));
  if (keys instanceof Table) {
    const missing = pk.filter((k) => !keys.getChild(k));
    if (missing.length > 0) throw new SchemaMismatchError(`delete keys must hold the key columns ${pk.join(', ')}; they lack ${missing.join(', ')}`, { columns: missing });
    return toArrowTable(keys.select(pk), keySchema);
  }
  const objects = Array.isArray(keys) ? (keys as ReadonlyArray<Record<string, unknown>>) : [];
  return toArrowTable(objects.map((r) => Object.fromEntries(pk.map((k) => [k, r?.[k]]))), keySchema);
}

/**
 * An upsert's rows in the table's types and the cells they do not give (TableFormat.upsert's `kept`):
 * an Arrow table's missing non-key columns are left to the format (kept for every row); of plain objects,
 * a property that is absent or undefined keeps the key's stored value, while null writes null (as in a
 * JSON merge patch). Every row must hold the key columns.
 */
export function upsertRowsOf(rows: Rows, manifest: Manifest): { rows: Table; kept?: KeptCells } {
  const full = schemaFromManifest(manifest);
  const pk = manifest.primaryKey ?? [];
  if (rows instanceof Table) {
    // A column the table lacks fails the conversion (SCHEMA_MISMATCH naming it).
    const own = full.fields.filter((f) => rows.getChild(f.name));
    return { rows: own.length === full.fields.length ? toArrowTable(rows, full) : toArrowTable(rows, new Schema(own)) };
  }
  if (!Array.isArray(rows)) throw new SchemaMismatchError('rows must be an Arrow table or an array of objects');
  const objects = rows as ReadonlyArray<Record<string, unknown>>;
  if (objects.length === 0) return { rows: new Table(full) };
  checkObjectRows(objects, full);
  const kept: Record<string, Uint8Array> = {};
  const fields: Field[] = [];
  for (const f of full.fields) {
    const absent = objects.map((row) => (row[f.name] === undefined ? 1 : 0));
    const missing = absent.reduce<number>((n, a) => n + a, 0);
    if (pk.includes(f.name)) {
      if (missing > 0) throw new SchemaMismatchError(`row ${absent.indexOf(1)} lacks key column ${JSON.stringify(f.name)}: an upsert may leave out other columns, never the key`, { column: f.name });
      fields.push(f);
    } else if (missing < objects.length) {
      // Absent cells become null placeholders here; the format replaces them with stored values.
      if (missing > 0) kept[f.name] = Uint8Array.from(absent);
      fields.push(missing > 0 ? new Field(f.name, f.type, true) : f);
    }
  }
  const table = objectsToTable(objects, new Schema(fields));
  return Object.keys(kept).length > 0 ? { rows: table, kept } : { rows: table };
}

/** Arrow table from rows: Arrow tables pass through; plain objects use `schema` or an inferred one. */
export function toArrowTable(rows: Rows, schema?: Schema, inferOptions: InferOptions = {}): Table {
  if (rows instanceof Table) return schema ? conform(rows, schema) : rows;
  if (!Array.isArray(rows)) throw new SchemaMismatchError('rows must be an Arrow table or an array of objects');
  const objects = rows as ReadonlyArray<Record<string, unknown>>;
  const target = schema ?? inferSchema(objects, inferOptions);
  checkObjectRows(objects, target);
  return objectsToTable(objects, target);
}

/** SCHEMA_MISMATCH unless every row is an object whose properties are all columns of `schema`. */
function checkObjectRows(objects: ReadonlyArray<Record<string, unknown>>, schema: Schema): void {
  const known = new Set(schema.fields.map((f) => f.name));
  for (const row of objects) {
    if (!row || typeof row !== 'object') throw new SchemaMismatchError('every row must be an object');
    for (const k of Object.keys(row)) {
      if (!known.has(k)) throw new SchemaMismatchError(`column ${JSON.stringify(k)} is not in the table's schema`, { column: k });
    }
  }
}

/** Checked plain objects as record batches in exactly `target` (Table(columns) would mark every field nullable). */
function objectsToTable(objects: ReadonlyArray<Record<string, unknown>>, target: Schema): Table {
  if (objects.length === 0) return new Table(target);
  const columns: Record<string, ReturnType<typeof vectorFromArray>> = {};
  for (const field of target.fields) columns[field.name] = vectorFromArray(objects.map((row) => coerce(row[field.name], field)), field.type);
  return new Table(new Table(columns).batches.map((b) => new RecordBatch(target, b.data)));
}

/**
 * An Arrow table in the table's own types: passes through when they already match, else goes through
 * plain values (e.g. dictionary strings to utf8, float ids to int64), refusing unknown columns.
 */
function conform(table: Table, schema: Schema): Table {
  const fits = table.schema.fields.length === schema.fields.length
    && schema.fields.every((f, i) => {
      const g = table.schema.fields[i];
      return g !== undefined && g.name === f.name && String(g.type) === String(f.type) && (f.nullable || !g.nullable);
    });
  return fits ? table : toArrowTable(tableToRows(table), schema);
}

function coerce(value: unknown, field: Field): unknown {
  if (value === undefined || value === null) {
    if (!field.nullable) throw new SchemaMismatchError(`column ${field.name} is not nullable`, { column: field.name });
    return null;
  }
  const bad = (): never => {
    throw new SchemaMismatchError(`value ${describe(value)} does not fit column ${field.name} (${String(field.type)})`, { column: field.name });
  };
  switch (field.typeId) {
    case Type.Bool:
      return typeof value === 'boolean' ? value : bad();
    case Type.Int: {
      const bits = (field.type as Int64).bitWidth;
      if (bits === 64) {
        if (typeof value === 'bigint') return value;
        if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
        if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
        return bad();
      }
      if (typeof value === 'bigint') return Number(value);
      return typeof value === 'number' && Number.isInteger(value) ? value : bad();
    }
    case Type.Float:
      if (typeof value === 'bigint') return Number(value);
      return typeof value === 'number' ? value : bad();
    case Type.Utf8:
      return typeof value === 'string' ? value : bad();
    case Type.Binary:
      // Base64 text is how bytes travel in JSON (see jsonSafe).
      if (typeof value === 'string') return new Uint8Array(Buffer.from(value, 'base64'));
      return value instanceof Uint8Array ? value : bad();
    case Type.Date:
    case Type.Timestamp:
      if (value instanceof Date) return value.getTime();
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
      return bad();
    default:
      return bad();
  }
}

function describe(value: unknown): string {
  return typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
}

export interface InferOptions {
  /** Columns whose whole-number values become int64 rather than float64 (primary keys: keys cannot be floats). */
  integerColumns?: readonly string[];
}

/**
 * Numbers become float64 (lossless for JS numbers) except in `integerColumns` when all are whole,
 * bigint int64, Date timestamp_ms, bytes binary.
 */
export function inferSchema(rows: ReadonlyArray<Record<string, unknown>>, opts: InferOptions = {}): Schema {
  const types = new Map<string, ColumnType | null>();
  for (const row of rows) {
    if (!row || typeof row !== 'object') throw new SchemaMismatchError('every row must be an object');
    for (const [k, v] of Object.entries(row)) {
      const t = v === null || v === undefined ? null : typeOfValue(k, v);
      const seen = types.get(k);
      if (seen === undefined || seen === null) types.set(k, t);
      else if (t !== null && t !== seen) throw new SchemaMismatchError(`column ${k} holds both ${seen} and ${t} values`, { column: k });
    }
  }
  if (types.size === 0) throw new SchemaMismatchError('cannot infer a schema from no rows: give a schema');
  for (const name of opts.integerColumns ?? []) {
    if (types.get(name) === 'float64' && rows.every((r) => r[name] === null || r[name] === undefined || Number.isSafeInteger(r[name]))) types.set(name, 'int64');
  }
  return new Schema([...types].map(([name, t]) => new Field(name, columnTypeToArrow(t ?? 'utf8'), true)));
}

function typeOfValue(column: string, v: unknown): ColumnType {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'string') return 'utf8';
  if (v instanceof Date) return 'timestamp_ms';
  if (v instanceof Uint8Array) return 'binary';
  throw new SchemaMismatchError(`cannot store ${typeof v} values (column ${column})`, { column });
}

/** Rows of an Arrow table as plain objects (Arrow's own value types: bigint for 64-bit ints). */
export function tableToRows(table: Table): Array<Record<string, unknown>> {
  return table.toArray().map((row) => ({ ...(row as { toJSON(): Record<string, unknown> }).toJSON() }));
}

/**
 * A value safe for JSON and equal on both sides of HTTP: bigint as number when exact, else as a
 * decimal string; bytes as base64; Dates as ms.
 */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value instanceof Date) return value.getTime();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}
