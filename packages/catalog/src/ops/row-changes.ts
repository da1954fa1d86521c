import { canonicalJson, type Hash } from '@armillaria/core';
import { Field, Schema } from 'apache-arrow';
import { jsonSafe, schemaFromManifest, toArrowTable } from '../rows.js';
import type { Manifest, RowDiff, TableFormat } from '../table-format/table-format.js';

/** One key's change between two versions: `after` null means deleted, `before` null means inserted. */
export interface RowChange {
  key: unknown[];
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** Stable text for a key or row, equal for equal values whatever their JS types (bigint vs number). */
export function valueId(value: unknown): string {
  return canonicalJson(jsonSafe(value));
}

/** A row diff as key -> change. */
export function changesByKey(diff: RowDiff): Map<string, RowChange> {
  const out = new Map<string, RowChange>();
  const keyOf = (row: Record<string, unknown>): unknown[] => diff.keyColumns.map((k) => row[k]);
  for (const row of diff.added) out.set(valueId(keyOf(row)), { key: keyOf(row), before: null, after: row });
  for (const row of diff.removed) out.set(valueId(keyOf(row)), { key: keyOf(row), before: row, after: null });
  for (const c of diff.changed) out.set(valueId(c.key), { key: c.key, before: c.before, after: c.after });
  return out;
}

/** Whether two changes leave the key in the same state. */
export function sameOutcome(a: RowChange, b: RowChange): boolean {
  if (a.after === null || b.after === null) return a.after === b.after;
  return valueId(a.after) === valueId(b.after);
}

/**
 * Cell-level three-way merge of a row both sides updated from `base`: each column takes the side that
 * changed it (either, when both changed it alike). So one side's edit of `email` and the other's of
 * `plan` merge cleanly, as git merges edits of different lines (Dolt merges cells the same way). A column
 * the sides changed to different values is a conflict, listed in `columns`; `row` holds `prefer`'s value
 * there (git's -X ours / -X theirs: the other side's changes to other columns still apply).
 */
export function mergeCells(base: Record<string, unknown>, ours: Record<string, unknown>, theirs: Record<string, unknown>, prefer: 'ours' | 'theirs' = 'ours'): { row: Record<string, unknown>; columns: string[] } {
  const row: Record<string, unknown> = {};
  const columns: string[] = [];
  for (const column of Object.keys(base)) {
    const [b, o, t] = [base[column], ours[column], theirs[column]].map(valueId) as [string, string, string];
    if (o === t || t === b) row[column] = ours[column];
    else if (o === b) row[column] = theirs[column];
    else {
      columns.push(column);
      row[column] = prefer === 'ours' ? ours[column] : theirs[column];
    }
  }
  return { row, columns };
}

/** Applies changes to a keyed table version: one upsert for the puts, one key delete for the rest. */
export async function applyChanges(format: TableFormat, manifestHash: Hash, manifest: Manifest, changes: readonly RowChange[]): Promise<Hash> {
  const schema = schemaFromManifest(manifest);
  const pk = manifest.primaryKey ?? [];
  const puts = changes.filter((c) => c.after !== null).map((c) => c.after as Record<string, unknown>);
  const dels = changes.filter((c) => c.after === null).map((c) => Object.fromEntries(pk.map((k, i) => [k, c.key[i]])));
  let current = manifestHash;
  if (puts.length > 0) current = (await format.upsert(current, toArrowTable(puts, schema))).manifest;
  if (dels.length > 0) {
    const keySchema = new Schema(pk.map((k) => schema.fields.find((f) => f.name === k) as Field));
    current = (await format.deleteKeys(current, toArrowTable(dels, keySchema))).manifest;
  }
  return current;
}

/** Same columns, types and key: row-level merging is meaningful only then. */
export function sameShape(a: Manifest, b: Manifest): boolean {
  return canonicalJson(a.schema) === canonicalJson(b.schema) && canonicalJson(a.primaryKey ?? []) === canonicalJson(b.primaryKey ?? []);
}
