import { ErrorCode } from '@armillaria/core';
import { CatalogNotFoundError } from '../errors.js';
import { jsonSafe } from '../rows.js';
import type { CatalogContext } from '../context.js';
import type { ChunkInfo, RowDiff } from '../table-format/table-format.js';
import type { Commit, DiffOptions, DiffResult, TableDiff } from '../catalog-api.js';

/**
 * Tables whose manifests differ between two commits, with their added/removed chunks (hash
 * comparison) and, on request, row-level changes (the format decodes only the differing chunks).
 */
export async function diffRefs(ctx: CatalogContext, a: Commit, b: Commit, opts: DiffOptions): Promise<DiffResult> {
  const [ta, tb] = await Promise.all([ctx.store.readTree(a.tree), ctx.store.readTree(b.tree)]);
  let names = [...new Set([...Object.keys(ta.tables), ...Object.keys(tb.tables)])].sort();
  if (opts.table !== undefined) {
    if (!names.includes(opts.table)) {
      throw new CatalogNotFoundError(ErrorCode.TableNotFound, `table ${opts.table} exists at neither side of the diff`, { table: opts.table });
    }
    names = [opts.table];
  }
  const tables: TableDiff[] = [];
  for (const table of names) {
    const from = ta.tables[table];
    const to = tb.tables[table];
    if (from && to && from.manifest === to.manifest) continue;
    const chunks = await ctx.format.diffChunks(from?.manifest ?? null, to?.manifest ?? null);
    const d: TableDiff = {
      table,
      status: !from ? 'added' : !to ? 'removed' : 'modified',
      chunks: jsonSafe({ added: chunks.added, removed: chunks.removed }) as { added: ChunkInfo[]; removed: ChunkInfo[] },
    };
    if (from) d.from = { ...from };
    if (to) d.to = { ...to };
    if (opts.rows) d.rows = jsonSafe(await ctx.format.diffRows(from?.manifest ?? null, to?.manifest ?? null)) as RowDiff;
    tables.push(d);
  }
  return { from: a.hash, to: b.hash, tables };
}
