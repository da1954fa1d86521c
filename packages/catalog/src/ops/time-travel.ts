import { ErrorCode, InvalidArgumentError } from '@armillaria/core';
import { CatalogNotFoundError } from '../errors.js';
import type { CatalogContext } from '../context.js';
import type { Commit, RepoInfo, TableVersion } from '../catalog-api.js';
import type { TreeEntry } from '../model/commit.js';

/**
 * Version `version` of `table` as seen from commit `at`: the table's entry in `at`'s tree when no
 * version is asked, else a skip-pointer search along first parents for the commit that introduced
 * that version (O(log n) commit reads, not a walk over the history).
 */
export async function tableVersionAt(ctx: CatalogContext, repo: RepoInfo, table: string, at: Commit, version?: number): Promise<TableVersion> {
  const entry = (await ctx.store.readTree(at.tree)).tables[table];
  if (!entry) {
    throw new CatalogNotFoundError(ErrorCode.TableNotFound, `table ${table} not found in repo ${repo.name} at ${at.hash.slice(0, 12)}`, {
      repo: repo.name, table, commit: at.hash,
    });
  }
  if (version === undefined) return { table, version: entry.version, manifest: entry.manifest, commit: at.hash };
  if (!Number.isInteger(version) || version < 1) {
    throw new InvalidArgumentError(`version must be an integer >= 1, got ${String(version)}`, { details: { table, version: String(version) } });
  }
  const notFound = (): never => {
    throw new CatalogNotFoundError(ErrorCode.VersionNotFound, `table ${table} has no version ${version} (latest at this ref: ${entry.version})`, {
      repo: repo.name, table, version, latest: entry.version,
    });
  };
  if (version > entry.version) notFound();
  // The common case, a linear history the process has cached: no tree read at all.
  const quick = ctx.store.lineageVersion(at, table, entry.origin, version);
  if (quick) return { table, version, manifest: quick.manifest, commit: quick.commit };
  let from = at;
  for (;;) {
    const found = await introducing(ctx, from, table, entry, version);
    const e = (await ctx.store.readTree(found.tree)).tables[table] as TreeEntry;
    if (e.version === version) return { table, version, manifest: e.manifest, commit: found.hash };
    // A merge jumped past `version` along first parents: the version may live on a merged parent.
    let next: Commit | undefined;
    for (const p of found.parents.slice(1)) {
      const pc = await ctx.store.readCommit(p);
      const pe = (await ctx.store.readTree(pc.tree)).tables[table];
      if (pe && pe.origin === entry.origin && pe.version >= version) {
        next = pc;
        break;
      }
    }
    if (!next) return notFound();
    from = next;
  }
}

/**
 * The oldest first-parent ancestor of `from` holding the same incarnation of `table` at >= `version`:
 * a binary search over the lineage index when `from`'s history is cached, else over skip pointers
 * (O(log n) commit and tree reads either way, never a walk over the history).
 */
export async function introducing(ctx: CatalogContext, from: Commit, table: string, entry: TreeEntry, version: number): Promise<Commit> {
  return ctx.store.oldestWithVersion(from, table, entry.origin, version);
}
