import type { Table } from 'apache-arrow';
import { canonicalJson } from '@armillaria/core';
import { jsonSafe, SchemaMismatchError } from '@armillaria/catalog';

/** Plain rows <-> Arrow come from the catalog (one conversion for every package); keys are the coordinator's. */
export { schemaFromSpec, schemaFromManifest, toArrowTable, keyTableOf, upsertRowsOf, tableToRows, jsonSafe } from '@armillaria/catalog';

/**
 * A primary key as one comparable string. Integers compare equal whatever their JS type (5, 5n), so keys
 * from Arrow (bigint) and from JSON diffs (number) meet.
 */
export function keyString(key: readonly unknown[]): string {
  return canonicalJson(key.map((v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && Number.isInteger(v) ? String(v) : jsonSafe(v))));
}

/** The keys of `rows` (an Arrow table holding at least `keyColumns`). */
export function keysOf(rows: Table, keyColumns: readonly string[]): unknown[][] {
  const columns = keyColumns.map((c) => {
    const col = rows.getChild(c);
    if (!col) throw new SchemaMismatchError(`key column ${c} is missing from the rows`, { column: c });
    return col;
  });
  const out: unknown[][] = [];
  for (let i = 0; i < rows.numRows; i++) out.push(columns.map((col) => col.get(i)));
  return out;
}
