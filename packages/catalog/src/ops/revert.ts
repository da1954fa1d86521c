import { InvalidArgumentError } from '@armillaria/core';
import { MergeConflictError } from '../errors.js';
import { jsonSafe } from '../rows.js';
import { DEFAULT_AUTHOR, type CatalogContext } from '../context.js';
import type { TreeEntry, TreeRecord } from '../model/commit.js';
import type { CommitResult, MergeConflict, RepoInfo, WriteOptions } from '../catalog-api.js';
import { applyChanges, changesByKey, mergeCells, sameShape, type RowChange } from './row-changes.js';

/**
 * Undoes one commit's changes on top of a branch head. A table untouched since is restored whole;
 * otherwise the commit's row diff is inverted by key. A key changed since is merged cell by cell when
 * the commit and the later changes updated it (the columns changed since stay, the others go back), else
 * it is a conflict (MERGE_CONFLICT, nothing written), as is a column both changed.
 */
export async function revertCommit(ctx: CatalogContext, repo: RepoInfo, ref: string, opts: WriteOptions): Promise<CommitResult> {
  const branch = opts.branch ?? repo.defaultBranch;
  const target = await ctx.resolver.resolve(repo, ref);
  const parentHash = target.parents[0];
  if (parentHash === undefined) throw new InvalidArgumentError('the root commit cannot be reverted', { details: { commit: target.hash } });
  const head = await ctx.branchHead(repo, branch);
  const [pt, ct, ht] = await Promise.all([
    ctx.store.readCommit(parentHash).then((p) => ctx.store.readTree(p.tree)),
    ctx.store.readTree(target.tree),
    ctx.store.readTree(head.tree),
  ]);
  const tables: TreeRecord['tables'] = { ...ht.tables };
  const conflicts: MergeConflict[] = [];
  const rowWork: Array<{ table: string; h: TreeEntry; apply: RowChange[] }> = [];

  for (const table of [...new Set([...Object.keys(pt.tables), ...Object.keys(ct.tables)])].sort()) {
    const p = pt.tables[table];
    const c = ct.tables[table];
    const h = ht.tables[table];
    if (p?.manifest === c?.manifest) continue;
    if (h?.manifest === c?.manifest) {
      // Untouched since the commit: put back what it replaced.
      if (!p) delete tables[table];
      else tables[table] = h ? { manifest: p.manifest, version: h.version + 1, origin: h.origin } : { manifest: p.manifest, version: 1, origin: head.hash };
      continue;
    }
    const conflict = (reason: string): void => {
      conflicts.push({ table, kind: 'table', reason });
    };
    if (!p || !c || !h) {
      conflict(!p ? 'the commit created the table and it changed since' : !c ? 'the commit dropped the table and it was recreated since' : 'the table was dropped since');
      continue;
    }
    const [pm, cm, hm] = await Promise.all([p.manifest, c.manifest, h.manifest].map((x) => ctx.format.readManifest(x)));
    if (!pm || !cm || !hm || !sameShape(pm, cm) || !sameShape(cm, hm)) {
      conflict('the schema changed in the commit or since');
      continue;
    }
    if (!cm.primaryKey?.length) {
      conflict('the table has no primary key and changed since');
      continue;
    }
    const [undo, since] = await Promise.all([ctx.format.diffRows(c.manifest, p.manifest), ctx.format.diffRows(c.manifest, h.manifest)]);
    const changedSince = changesByKey(since);
    const apply: RowChange[] = [];
    for (const [id, change] of changesByKey(undo)) {
      const later = changedSince.get(id);
      if (!later) {
        apply.push(change);
        continue;
      }
      // Updated by the commit and since: the columns changed since keep their new values, the others go back.
      const cells = change.before && change.after && later.after ? mergeCells(change.before, later.after, change.after) : undefined;
      if (cells?.columns.length === 0) {
        apply.push({ key: change.key, before: later.after, after: cells.row });
        continue;
      }
      conflicts.push(jsonSafe({
        table, kind: 'row', reason: cells ? `row changed since the reverted commit, in ${cells.columns.join(', ')}` : 'row changed since the reverted commit',
        key: change.key, base: change.before, ours: later.after, theirs: change.after, ...(cells ? { columns: cells.columns } : {}),
      }) as MergeConflict);
    }
    rowWork.push({ table, h, apply });
  }
  if (conflicts.length > 0) {
    throw new MergeConflictError(`reverting ${target.hash.slice(0, 12)}: ${conflicts.length} conflict(s)`, conflicts as unknown as Array<Record<string, unknown>>);
  }
  for (const { table, h, apply } of rowWork) {
    if (apply.length === 0) continue;
    const manifest = await applyChanges(ctx.format, h.manifest, await ctx.format.readManifest(h.manifest), apply);
    tables[table] = { manifest, version: h.version + 1, origin: h.origin };
  }
  const commit = await ctx.commitTables(repo, branch, head.hash, tables, {
    message: opts.message ?? `revert ${target.hash.slice(0, 12)}: ${target.message}`,
    author: opts.author ?? DEFAULT_AUTHOR,
    ...(opts.txnId !== undefined ? { txnId: opts.txnId } : {}),
  });
  return { commit };
}
