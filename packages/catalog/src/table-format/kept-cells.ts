import { InvalidArgumentError } from '@armillaria/core';
import { Table, type Vector } from 'apache-arrow';
import { SchemaMismatchError } from '../errors.js';
import { conform, nullVector, type ManifestSchema } from './column-types.js';
import { jsonKey, keyAt } from './keys.js';
import type { Changes } from './rechunk.js';
import type { KeptCells } from './table-format.js';

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

/**
 * Where the stored rows of the changes are, as interleave sources (source 0 is the given rows): per change
 * (position in `changes.order`), the source and row of its base row and of its live delta row (-1: none),
 * and that delta row's DELTA_UNCHANGED_COLUMN mask; `nullSource` holds one row of nulls.
 */
export interface StoredRows {
  nullSource: number;
  baseSource: Int32Array;
  baseRow: Int32Array;
  deltaSource: Int32Array;
  deltaRow: Int32Array;
  deltaMask: ReadonlyArray<string | null>;
}

/** Interleave picks that complete the given rows: every column from source 0, fill columns cell by cell. */
export interface FillPicks {
  main: Uint32Array;
  groups: Uint32Array[];
  /** Per table column: its group in `groups`, -1 for `main`. */
  of: number[];
}

/**
 * The picks that set every kept cell to its key's stored value: the live delta row's (or its base row's
 * where the delta row's mask keeps that), else the base row's; a key with neither (new, or deleted in the
 * delta) takes null from the null row, SCHEMA_MISMATCH for a non-nullable column.
 */
export function fillPicks(p: PartialRows, schema: ManifestSchema, changes: Changes, stored: StoredRows): FillPicks {
  const n = p.given.numRows;
  const names = schema.fields.map((f) => f.name);
  const main = new Uint32Array(2 * n);
  for (let r = 0; r < n; r++) main[2 * r + 1] = r;
  const groups = p.fill.map(() => main.slice());
  const keep = p.fill.map((c) => p.keep.get(c)!);
  const position = p.fill.map((c) => names.indexOf(c));
  const nullable = p.fill.map((c) => schema.fields.find((f) => f.name === c)!.nullable);
  for (let y = 0; y < changes.order.length; y++) {
    const r = changes.order[y]!;
    const inDelta = stored.deltaSource[y]! >= 0;
    const mask = inDelta ? stored.deltaMask[y] : null;
    for (let g = 0; g < groups.length; g++) {
      if (keep[g]![r] !== 1) continue;
      const fromBase = !inDelta || mask?.[position[g]!] === '1';
      const source = fromBase ? stored.baseSource[y]! : stored.deltaSource[y]!;
      const picks = groups[g]!;
      if (source >= 0) {
        picks[2 * r] = source;
        picks[2 * r + 1] = fromBase ? stored.baseRow[y]! : stored.deltaRow[y]!;
        continue;
      }
      if (!nullable[g]) {
        const key = jsonKey(keyAt(changes.keys, r));
        throw new SchemaMismatchError(`upsert of the new key ${JSON.stringify(key)} gives no value for column ${JSON.stringify(p.fill[g])}, which is not nullable`, { column: p.fill[g]!, key });
      }
      // Not source 0's cell: an Arrow table's kept cell holds whatever value it was given.
      picks[2 * r] = stored.nullSource;
      picks[2 * r + 1] = 0;
    }
  }
  return { main, groups, of: names.map((c) => p.fill.indexOf(c)) };
}

/** Source 0 of the fill: the given rows in the table's column order, a column they lack as nulls. */
export function givenSource(p: PartialRows, schema: ManifestSchema): Table {
  const cols: Record<string, Vector> = {};
  for (const f of schema.fields) cols[f.name] = p.given.getChild(f.name) ?? nullVector(f.type, p.given.numRows);
  return new Table(cols);
}

/** One row of nulls in the table's columns: what a new key's kept cells take. */
export function nullRow(schema: ManifestSchema): Table {
  return new Table(Object.fromEntries(schema.fields.map((f) => [f.name, nullVector(f.type, 1)])));
}
