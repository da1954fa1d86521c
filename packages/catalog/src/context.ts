import type { Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';
import type { RefStore } from './refs/ref-store.js';
import type { TableFormat } from './table-format/table-format.js';
import type { CommitStore } from './model/commit-store.js';
import type { TreeRecord } from './model/commit.js';
import type { RefResolver } from './ref-resolver.js';
import type { Commit, RepoInfo } from './catalog-api.js';

/** What the operation modules (diff, merge, revert, log) need from the catalog. */
export interface CatalogContext {
  readonly chunks: ChunkStore;
  readonly refs: RefStore;
  readonly format: TableFormat;
  readonly store: CommitStore;
  readonly resolver: RefResolver;
  repoInfo(name: string): Promise<RepoInfo>;
  /** Head commit of a branch (BRANCH_NOT_FOUND). */
  branchHead(repo: RepoInfo, branch: string): Promise<Commit>;
  /** Writes tree + commit, indexes the commit, then one CAS of the branch from `base`. */
  commitTables(repo: RepoInfo, branch: string, base: Hash, tables: TreeRecord['tables'], meta: CommitMeta): Promise<Commit>;
}

export interface CommitMeta {
  message: string;
  author: string;
  txnId?: string;
  /** Per table, the change event op (transaction commits): see CommitRecord.ops. */
  ops?: Record<string, string>;
  mergeParents?: Hash[];
}

export const DEFAULT_AUTHOR = 'armillaria';
