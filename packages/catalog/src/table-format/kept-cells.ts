import { InvalidArgumentError } from '@armillaria/core';
import { Table, vectorFromArray, type Vector } from 'apache-arrow';
import { SchemaMismatchError } from '../errors.js';
import { arrowType, conform, type ManifestSchema } from './column-types.js';
import { KeyState, type KeyPositions } from './delta-edit.js';
import { jsonKey, keyAt } from './keys.js';
import type { Changes } from './rechunk.js';
import { DELTA_UNCHANGED_COLUMN, type KeptCells } from './table-format.js';

/**
 * Partial upserts (TableFormat.upsert with columns missing or `kept` cells): the values a row does not
 * give are the ones its key holds in the edited version, filled in before the edit so every later step
 * (delta, copy-on-write, fold) sees whole rows. A delta then stores the filled columns of a base key as
 * "unchanged" (the mask compare finds them equal), so an update of one column still costs one column.
 */

/** What a partial upsert gives: its rows' columns checked against the table, and the columns to fill. */
export interface PartialRows {
  /** The rows' own columns, in the table's types (key columns always among them). */
  given: Table;
  /** Non-key columns (schema order) whose stored values some row keeps: missing ones, or with kept cells. */
  fill: string[];
  /** Per fill column: 1 for rows that keep the stored value (every row for a column the rows lack). */
  keep: Map<string, Uint8Array>;
}

/**
 * Checks an upsert's rows and kept cells against the table: unknown columns and kept cells on key or
 * unknown columns are SCHEMA_MISMATCH, a kept mask of the wrong length INVALID_ARGUMENT. `fill` is empty
 * for whole rows (the common case, which then costs nothing more).
 */
export function partialRows(rows: Table, schema: ManifestSchema, pk: readonly string[], kept: KeptCells | undefined): PartialRows {
  const names = schema.fields.map((f) => f.name);
  for (const f of rows.schema.fields) {
    if (!names.includes(f.name)) throw new SchemaMismatchError(`rows have column ${JSON.stringify(f.name)}, which the table lacks`, { column: f.name });
  }
  for (const k of pk) {
    if (!rows.getChild(k)) throw new SchemaMismatchError(`rows lack key column ${JSON.stringify(k)}: an upsert may leave out other columns, never the key`, { column: k });
  }
  const keep = new Map<string, Uint8Array>();
  for (const [column, mask] of Object.entries(kept ?? {})) {
    if (!names.includes(column) || pk.includes(column)) {
      throw new SchemaMismatchError(`kept cells name ${JSON.stringify(column)}, which is ${pk.includes(column) ? 'a key column' : 'not a column of the table'}`, { column });
    }
    if (!(mask instanceof Uint8Array) || mask.length !== rows.numRows) {
      throw new InvalidArgumentError(`kept cells of ${JSON.stringify(column)} must be a Uint8Array of one byte per row (${rows.numRows})`, { details: { column } });
    }
    if (rows.getChild(column) && mask.some((b) => b !== 0)) keep.set(column, mask);
  }
  for (const f of schema.fields) {
    if (!pk.includes(f.name) && !rows.getChild(f.name)) keep.set(f.name, new Uint8Array(rows.numRows).fill(1));
  }
  const present = names.filter((n) => rows.getChild(n));
  // Kept cells hold placeholders (null), so only the other cells of a non-nullable column are checked below.
  const lenient: ManifestSchema = { fields: schema.fields.map((f) => (keep.has(f.name) ? { ...f, nullable: true } : f)) };
  return { given: conform(rows, lenient, present), fill: names.filter((n) => keep.has(n)), keep };
}

/** Rows (positions in `changes.order`) that keep some stored value. */
export function rowsToFill(p: PartialRows, changes: Changes): number[] {
  const out: number[] = [];
  for (let y = 0; y < changes.order.length; y++) {
    const r = changes.order[y]!;
    for (const mask of p.keep.values()) {
      if (mask[r] === 1) {
        out.push(y);
        break;
      }
    }
  }
  return out;
}

/** Where the stored rows of the changes are: positions within tables of decoded rows (see decodeFound). */
export interface StoredRows {
  base: { at: KeyPositions; tables: ReadonlyMap<number, Table> };
  /** The version's delta, when it has one: per change its KeyState, and the live rows decoded. */
  delta?: { state: Uint8Array; at: KeyPositions; tables: ReadonlyMap<number, Table> };
}

/**
 * The upsert's rows with every kept cell set to its key's stored value: the delta row when the delta
 * holds the key live (its base row's value where the row's mask keeps it), else the base row; a key the
 * version lacks (or the delta deleted) is new and gets null, SCHEMA_MISMATCH for a non-nullable column.
 */
export function fillKept(p: PartialRows, schema: ManifestSchema, changes: Changes, stored: StoredRows): Table {
  const n = p.given.numRows;
  const names = schema.fields.map((f) => f.name);
  const filled = new Map<string, unknown[]>();
  for (const c of p.fill) {
    const own = p.given.getChild(c);
    filled.set(c, own ? Array.from({ length: n }, (_, r) => own.get(r)) : new Array<unknown>(n).fill(null));
  }
  const columnOf = (t: Table | undefined, c: string): Vector | null => t?.getChild(c) ?? null;
  for (let y = 0; y < changes.order.length; y++) {
    const r = changes.order[y]!;
    const state = stored.delta?.state[y] ?? KeyState.Absent;
    const baseChunk = stored.base.at.chunk[y]!;
    const base = baseChunk >= 0 && state !== KeyState.Tombstone ? stored.base.tables.get(baseChunk) : undefined;
    const baseRow = stored.base.at.row[y]!;
    const delta = state === KeyState.Live ? stored.delta!.tables.get(stored.delta!.at.chunk[y]!) : undefined;
    const deltaRow = stored.delta?.at.row[y] ?? -1;
    const mask = delta ? (columnOf(delta, DELTA_UNCHANGED_COLUMN)?.get(deltaRow) as string | null) ?? null : null;
    for (const c of p.fill) {
      if (p.keep.get(c)![r] !== 1) continue;
      const fromBase = !delta || mask?.[names.indexOf(c)] === '1';
      const source = fromBase ? base : delta;
      const value = source ? columnOf(source, c)!.get(fromBase ? baseRow : deltaRow) : null;
      if (value === null && !schema.fields.find((f) => f.name === c)!.nullable) {
        throw new SchemaMismatchError(
          `upsert of the new key ${JSON.stringify(jsonKey(keyAt(changes.keys, r)))} gives no value for column ${JSON.stringify(c)}, which is not nullable`,
          { column: c, key: jsonKey(keyAt(changes.keys, r)) },
        );
      }
      filled.get(c)![r] = value;
    }
  }
  const cols: Record<string, Vector> = {};
  for (const f of schema.fields) {
    const values = filled.get(f.name);
    cols[f.name] = values ? vectorFromArray(values, arrowType(f.type)) : p.given.getChild(f.name)!;
  }
  return new Table(cols);
}
