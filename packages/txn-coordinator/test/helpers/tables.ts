import type { Catalog } from '@armillaria/catalog';
import { tableToRows } from '@armillaria/catalog';
import type { Table } from 'apache-arrow';

/** A repo with a keyed table `kv` (id int64 -> v utf8, ids 1..4) and an unkeyed table `events`. */
export async function seedRepo(catalog: Catalog, repo: string): Promise<void> {
  await catalog.createRepo(repo);
  await catalog.createTable(repo, 'kv', {
    schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'v', type: 'utf8' }] },
    primaryKey: ['id'],
    rows: [1, 2, 3, 4].map((id) => ({ id, v: `v${id}` })),
  });
  await catalog.createTable(repo, 'events', { schema: { fields: [{ name: 'msg', type: 'utf8' }] }, rows: [{ msg: 'first' }] });
}

/** Rows as plain objects with numbers for int64 (small test values), sorted by `id` when present. */
export function plain(table: Table): Array<Record<string, unknown>> {
  const rows = tableToRows(table).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
  return rows.sort((a, b) => Number(a.id ?? 0) - Number(b.id ?? 0) || String(a.msg ?? '').localeCompare(String(b.msg ?? '')));
}
