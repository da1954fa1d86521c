import type { Hash } from '@armillaria/core';
import type { CatalogApi, Commit, CommitResult, MergeResult } from '@armillaria/catalog';

/** Publishes one commit's change events (e.g. `Changelog.publishCommit`). */
export type PublishCommit = (repo: string, branch: string, commit: Commit | Hash) => Promise<unknown>;

type Overrides = Partial<Pick<CatalogApi, 'createTable' | 'dropTable' | 'write' | 'append' | 'upsert' | 'deleteRows' | 'addColumn' | 'compactTable' | 'restoreTable' | 'merge' | 'revert'>>;

/**
 * The catalog with every commit it makes on its own (table writes, merges, reverts) published to the
 * change bus, so live subscribers wake for them as they do for transactions (the coordinator publishes
 * those itself; `commitTree` is left alone). The commit stands even if publishing fails: the failure
 * becomes a process warning, and subscribers still get the commit from the catalog on their next
 * wake-up (the changelog walks the history between events).
 */
export function publishingCatalog(catalog: CatalogApi, publish: PublishCommit): CatalogApi {
  const defaultBranch = async (repo: string): Promise<string> => (await catalog.getRepo(repo)).defaultBranch;
  const announce = async (repo: string, branch: string | undefined, commit: Commit): Promise<void> => {
    try {
      await publish(repo, branch ?? (await defaultBranch(repo)), commit);
    } catch (err) {
      process.emitWarning(`change events of commit ${commit.hash} in ${repo} not published: ${(err as Error)?.message ?? err}`, { code: 'ARMILLARIA_PUBLISH' });
    }
  };
  const after = async (repo: string, branch: string | undefined, result: Promise<CommitResult>): Promise<CommitResult> => {
    const r = await result;
    // Nothing changed (an upsert of held rows, an already compact table): no commit was made.
    if (!r.unchanged) await announce(repo, branch, r.commit);
    return r;
  };
  const overrides: Overrides = {
    createTable: (repo, table, opts) => after(repo, opts?.branch, catalog.createTable(repo, table, opts)),
    dropTable: (repo, table, opts) => after(repo, opts?.branch, catalog.dropTable(repo, table, opts)),
    write: (repo, table, rows, opts) => after(repo, opts?.branch, catalog.write(repo, table, rows, opts)),
    append: (repo, table, rows, opts) => after(repo, opts?.branch, catalog.append(repo, table, rows, opts)),
    upsert: (repo, table, rows, opts) => after(repo, opts?.branch, catalog.upsert(repo, table, rows, opts)),
    deleteRows: (repo, table, keys, opts) => after(repo, opts?.branch, catalog.deleteRows(repo, table, keys, opts)),
    addColumn: (repo, table, column, opts) => after(repo, opts?.branch, catalog.addColumn(repo, table, column, opts)),
    compactTable: (repo, table, opts) => after(repo, opts?.branch, catalog.compactTable(repo, table, opts)),
    restoreTable: (repo, table, opts) => after(repo, opts?.branch, catalog.restoreTable(repo, table, opts)),
    revert: (repo, commit, opts) => after(repo, opts?.branch, catalog.revert(repo, commit, opts)),
    merge: async (repo, opts): Promise<MergeResult> => {
      const r = await catalog.merge(repo, opts);
      if (r.kind !== 'up-to-date') await announce(repo, opts.into, r.commit);
      return r;
    },
  };
  return new Proxy(catalog, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof Overrides];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
