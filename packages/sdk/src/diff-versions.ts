import { InvalidArgumentError } from '@armillaria/core';
import { jsonSafe, tableToRows, type CatalogApi } from '@armillaria/catalog';
import type { VersionDiff } from './options.js';

function assertVersion(v: unknown, field: string): asserts v is number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new InvalidArgumentError(`${field} must be a table version (an integer >= 1)`, { details: { field } });
}

/**
 * Row differences between versions `from` and `to` of `table`. With the table's own key (or none
 * asked), the catalog's diff does it from the changed chunks only (O(change)). Other `keyColumns`
 * need both versions read and matched here.
 */
export async function diffVersions(
  catalog: CatalogApi, repo: string, table: string, from: number, to: number, opts: { keyColumns?: readonly string[]; branch: string },
): Promise<VersionDiff> {
  assertVersion(from, 'from');
  assertVersion(to, 'to');
  if (opts.keyColumns !== undefined && (!Array.isArray(opts.keyColumns) || opts.keyColumns.length === 0 || !opts.keyColumns.every((k) => typeof k === 'string' && k))) {
    throw new InvalidArgumentError('keyColumns must be a non-empty list of column names', { details: { field: 'keyColumns' } });
  }
  const ref = opts.branch;
  const [a, b, desc] = await Promise.all([
    catalog.tableVersion(repo, table, { ref, version: from }),
    catalog.tableVersion(repo, table, { ref, version: to }),
    catalog.describeTable(repo, table, { ref, version: to }),
  ]);
  const own = desc.primaryKey ?? [];
  const wanted = opts.keyColumns ? [...opts.keyColumns] : own;
  if (!opts.keyColumns || sameList(wanted, own)) {
    const d = await catalog.diff(repo, a.commit, b.commit, { table, rows: true });
    const rows = d.tables.find((t) => t.table === table)?.rows;
    return { table, from, to, keyColumns: rows?.keyColumns ?? wanted, added: rows?.added ?? [], removed: rows?.removed ?? [], changed: rows?.changed ?? [] };
  }
  const columns = new Set(desc.schema.fields.map((f) => f.name));
  const missing = wanted.find((k) => !columns.has(k));
  if (missing) throw new InvalidArgumentError(`keyColumns: ${table} has no column ${missing}`, { details: { field: 'keyColumns', column: missing } });
  const [before, after] = await Promise.all([
    catalog.read(repo, table, { ref, version: from }), catalog.read(repo, table, { ref, version: to }),
  ]);
  return { table, from, to, keyColumns: wanted, ...matchRows(tableToRows(before).map(safe), tableToRows(after).map(safe), wanted) };
}

function safe(row: Record<string, unknown>): Record<string, unknown> {
  return jsonSafe(row) as Record<string, unknown>;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Matches rows by key; a key repeated within one version matches in order of appearance. */
function matchRows(before: Array<Record<string, unknown>>, after: Array<Record<string, unknown>>, keys: string[]): Omit<VersionDiff, 'table' | 'from' | 'to' | 'keyColumns'> {
  const keyOf = (r: Record<string, unknown>): unknown[] => keys.map((k) => r[k] ?? null);
  const old = new Map<string, Array<Record<string, unknown>>>();
  for (const r of before) {
    const k = JSON.stringify(keyOf(r));
    const list = old.get(k);
    if (list) list.push(r);
    else old.set(k, [r]);
  }
  const added: Array<Record<string, unknown>> = [];
  const changed: VersionDiff['changed'] = [];
  for (const r of after) {
    const k = JSON.stringify(keyOf(r));
    const prev = old.get(k)?.shift();
    if (!prev) added.push(r);
    else if (JSON.stringify(prev) !== JSON.stringify(r)) changed.push({ key: keyOf(r), before: prev, after: r });
  }
  const removed = [...old.values()].flat();
  return { added, removed, changed };
}
