import type { Hash } from '@armillaria/core';

/**
 * The part of the catalog the coordinator builds on. It is a structural subset of the catalog's
 * `CatalogApi` (`resolve`, `readCommit`, `getBranch`, `readTree`, `commitChain`), so a `Catalog` or a `RemoteCatalog`
 * is passed as is; declaring it here keeps the coordinator's contract with the catalog explicit.
 */
export interface CatalogPort {
  /** The commit a ref (here always a branch) names. BRANCH_NOT_FOUND / REPO_NOT_FOUND otherwise. */
  resolve(repo: string, ref?: string): Promise<CommitInfo>;
  readCommit(repo: string, hash: Hash): Promise<CommitInfo>;
  /** The head of a branch (BRANCH_NOT_FOUND, REPO_NOT_FOUND): `begin` pins it. */
  getBranch(repo: string, name: string): Promise<{ name: string; commit: Hash }>;
  readTree(repo: string, hash: Hash): Promise<TreeSnapshot>;
  /**
   * Group commit: writes a chain of commits on `baseCommit` (each the first parent of the next), then
   * moves `branch` from `baseCommit` to the last with ONE compare-and-swap: all or none, REF_CONFLICT
   * (nothing visible) if the branch moved. Returns the commits in chain order (at most 256).
   * `beforeSwap` (the PREPARE step) runs alongside writing the chain; the swap waits for it, and
   * if it rejects, nothing is swapped and its error is thrown.
   */
  commitChain(repo: string, branch: string, opts: { baseCommit: Hash; commits: ChainCommit[]; beforeSwap?: () => Promise<void> }): Promise<CommitInfo[]>;
}

export interface ChainCommit {
  tree: TreeSnapshot;
  message?: string;
  author?: string;
  txnId?: string;
  /** Per table, the op of its change event: stored in the commit so events replayed from the catalog match. */
  ops?: Record<string, string>;
}

/** The fields of a catalog commit the coordinator reads. */
export interface CommitInfo {
  hash: Hash;
  parents: Hash[];
  tree: Hash;
  time: number;
  generation: number;
  txnId?: string;
}

export interface TreeEntry {
  manifest: Hash;
  version: number;
  /** The commit that created this incarnation of the table (a drop and re-create gets a new one). */
  origin?: Hash;
}

export interface TreeSnapshot {
  tables: Record<string, TreeEntry>;
}

export function sameEntry(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.manifest === b.manifest && a.version === b.version && a.origin === b.origin;
}
