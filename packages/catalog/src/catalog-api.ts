import type { Hash } from '@armillaria/core';
import type { Schema, Table } from 'apache-arrow';
import type { CommitRecord, TreeEntry, TreeRecord } from './model/commit.js';
import type { ChunkInfo, ColumnType, ReadOptions, RowDiff } from './table-format/table-format.js';

/**
 * The catalog's operations, implemented in-process by `Catalog` and over HTTP by `RemoteCatalog`
 * (one contract test suite runs against both). Every error is a typed ArmillariaError with a stable
 * code, identical in both implementations.
 *
 * Refs (the `ref` option wherever one is taken) are, in order of precedence: a branch name, a tag
 * name, a full commit hash or a unique prefix of >= 6 hex chars (AMBIGUOUS_REF when several match),
 * any of those followed by `@{<ISO time or ms since epoch>}` for the state at that time (a branch
 * resolves through its reflog, anything else through the commit-time index). The `asOf` option is the
 * same as the `@{}` suffix, `version` picks a per-table version. Omitted: the repo's default branch.
 */
export interface CatalogApi {
  // ---- repositories
  /** Writes an initial empty commit on `defaultBranch` (default `main`). REF_CONFLICT if it exists. */
  createRepo(name: string, opts?: CreateRepoOptions): Promise<RepoInfo>;
  /** REPO_NOT_FOUND if absent. */
  getRepo(name: string): Promise<RepoInfo>;
  listRepos(): Promise<RepoInfo[]>;

  // ---- low-level pieces (the transaction coordinator builds on these)
  /** The commit a ref names. */
  resolve(repo: string, ref?: string, opts?: { asOf?: AsOf }): Promise<Commit>;
  /** COMMIT_NOT_FOUND if `hash` is not a commit of this repo. */
  readCommit(repo: string, hash: Hash): Promise<Commit>;
  readTree(repo: string, hash: Hash): Promise<TreeRecord>;
  /**
   * Writes `tree` and a commit whose first parent is `baseCommit`, then moves `branch` from
   * `baseCommit` to it with one compare-and-swap: REF_CONFLICT (nothing visible) if the branch moved.
   */
  commitTree(repo: string, branch: string, opts: CommitTreeOptions): Promise<Commit>;
  /**
   * Group commit: writes a chain of commits on `baseCommit` (each commit's first parent is the one
   * before it; the first's is `baseCommit`), then moves `branch` from `baseCommit` to the last with ONE
   * compare-and-swap. All or none: REF_CONFLICT (none of them visible) if the branch moved,
   * BRANCH_NOT_FOUND / COMMIT_NOT_FOUND as `commitTree`, INVALID_ARGUMENT for an empty chain, one over
   * 256 commits or a bad tree (nothing written). Returns the commits in chain order. The branch's reflog
   * gets one entry (base -> last): `branch@{time}` never names a commit in the middle of a chain.
   */
  commitChain(repo: string, branch: string, opts: CommitChainOptions): Promise<Commit[]>;
  /** Which version of `table` a ref (or `version`) names, and the manifest holding it. */
  tableVersion(repo: string, table: string, opts?: TableRefOptions): Promise<TableVersion>;

  // ---- tables
  listTables(repo: string, opts?: RefOptions): Promise<TableVersion[]>;
  describeTable(repo: string, table: string, opts?: TableRefOptions): Promise<TableDescription>;
  /** From `schema` or from initial `rows` (schema inferred). TABLE_EXISTS if present. */
  createTable(repo: string, table: string, opts: CreateTableOptions): Promise<CommitResult>;
  dropTable(repo: string, table: string, opts?: WriteOptions): Promise<CommitResult>;
  /** Overwrite: the table holds exactly `rows` afterwards. */
  write(repo: string, table: string, rows: Rows, opts?: WriteOptions): Promise<CommitResult>;
  append(repo: string, table: string, rows: Rows, opts?: WriteOptions): Promise<CommitResult>;
  /** Insert or replace by primary key (PRIMARY_KEY_REQUIRED on unkeyed tables). */
  upsert(repo: string, table: string, rows: Rows, opts?: WriteOptions): Promise<CommitResult>;
  /** Deletes rows whose key is in `keys` (rows holding at least the key columns). */
  deleteRows(repo: string, table: string, keys: Rows, opts?: WriteOptions): Promise<CommitResult>;
  addColumn(repo: string, table: string, column: NewColumn, opts?: WriteOptions): Promise<CommitResult>;
  /**
   * Same rows, laid out for reading: folds a keyed table's merge-on-read delta, merges an unkeyed
   * table's small appended chunks. No commit when already compact (the result names the branch head).
   */
  compactTable(repo: string, table: string, opts?: WriteOptions): Promise<CommitResult>;
  /**
   * Makes an earlier version of a table (`version` along the branch, or the table at `ref`/`asOf`) its
   * newest, as a new commit: the tree points at that version's manifest again, so nothing is copied (like
   * Delta Lake's RESTORE). A dropped table comes back as a new table. No commit when the table already
   * holds that version (`unchanged`).
   */
  restoreTable(repo: string, table: string, opts: RestoreTableOptions): Promise<CommitResult>;
  read(repo: string, table: string, opts?: ReadTableOptions): Promise<Table>;

  // ---- history
  /** Newest first. With `table`, only the commits that changed it (along first parents), with its version. */
  log(repo: string, opts?: LogOptions): Promise<LogEntry[]>;

  // ---- branches and tags
  /** Writes exactly one ref and no chunk, whatever the data size. BRANCH_EXISTS if present. */
  createBranch(repo: string, name: string, opts?: { from?: string; asOf?: AsOf }): Promise<RefInfo>;
  getBranch(repo: string, name: string): Promise<RefInfo>;
  /** Every position the branch had, newest first (kept after deletion); `before` in ms skips newer entries. */
  branchReflog(repo: string, name: string, opts?: { limit?: number; before?: AsOf }): Promise<BranchReflogEntry[]>;
  listBranches(repo: string): Promise<RefInfo[]>;
  /** The default branch cannot be deleted (INVALID_ARGUMENT). */
  deleteBranch(repo: string, name: string): Promise<void>;
  createTag(repo: string, name: string, opts?: { ref?: string; asOf?: AsOf }): Promise<RefInfo>;
  listTags(repo: string): Promise<RefInfo[]>;
  deleteTag(repo: string, name: string): Promise<void>;

  // ---- compare and combine
  diff(repo: string, from: string, to: string, opts?: DiffOptions): Promise<DiffResult>;
  /** Three-way merge of `source` into branch `into`. Strategy `fail` throws MERGE_CONFLICT and writes nothing. */
  merge(repo: string, opts: MergeOptions): Promise<MergeResult>;
  /** A new commit on `branch` undoing `commit`'s changes (MERGE_CONFLICT if those rows changed since). */
  revert(repo: string, commit: string, opts?: WriteOptions): Promise<CommitResult>;

  close(): Promise<void>;
}

/** Rows in: an Arrow table, or plain objects (converted with the table's schema, or an inferred one). */
export type Rows = Table | ReadonlyArray<Record<string, unknown>>;
/** A moment: Date, ms since epoch, or an ISO-8601 string. */
export type AsOf = Date | number | string;

export interface CreateRepoOptions {
  defaultBranch?: string;
  author?: string;
}

export interface RepoInfo {
  name: string;
  defaultBranch: string;
  createdAt: number;
}

export interface Commit extends CommitRecord {
  hash: Hash;
}

/** A tree as given to `commitTree`: `origin` may be left out (inherited from the base tree, or the base commit for new tables). */
export interface TreeInput {
  tables: Record<string, { manifest: Hash; version: number; origin?: Hash }>;
}

export interface CommitTreeOptions {
  baseCommit: Hash;
  tree: TreeInput;
  message?: string;
  author?: string;
  txnId?: string;
  /** Extra parents after `baseCommit` (merges). */
  mergeParents?: Hash[];
}

/** One commit of a `commitChain`: as `CommitTreeOptions` without the base (its parent is the commit before it). */
export interface ChainCommitInput {
  tree: TreeInput;
  message?: string;
  author?: string;
  txnId?: string;
  /** Per table, the op its change events carry (`upserted`, `deleted`, ...), stored in the commit so replays match live events. */
  ops?: Record<string, string>;
}

export interface CommitChainOptions {
  baseCommit: Hash;
  /** 1 to 256 commits, oldest first. */
  commits: ChainCommitInput[];
  /**
   * In-process hook for the caller's own durable step (the coordinator's PREPARED records): started
   * once the chain is hashed, it runs in parallel with writing the chain's chunks and index entries,
   * and the compare-and-swap waits for it. If it rejects, nothing is swapped and its error is thrown.
   * Never sent over HTTP: `RemoteCatalog` awaits it before its request.
   */
  beforeSwap?: () => Promise<void>;
}

export interface RefOptions {
  ref?: string;
  asOf?: AsOf;
}

export interface TableRefOptions extends RefOptions {
  /** A per-table version number (>= 1), found along the first parents of `ref`. */
  version?: number;
}

export interface ReadTableOptions extends TableRefOptions, ReadOptions {}

/** Which version `restoreTable` brings back (one of `version`, `ref`, `asOf`), and the commit it makes. */
export interface RestoreTableOptions extends WriteOptions {
  /** A version of the table along the branch written. */
  version?: number;
  /** The table as of this ref (commit, tag, `main~3`, another branch). */
  ref?: string;
  /** The table as of this time on the branch written (or on `ref`). */
  asOf?: AsOf;
}

export interface TableVersion {
  table: string;
  version: number;
  manifest: Hash;
  /** The commit the lookup landed on. */
  commit: Hash;
}

export interface TableDescription extends TableVersion {
  schema: { fields: Array<{ name: string; type: ColumnType; nullable: boolean }> };
  primaryKey?: string[];
  rows: number;
  bytes: number;
  /** Data chunks (files) of the base. */
  chunks: number;
  /**
   * Keyed tables with changes not yet folded into the base (merge-on-read): delta rows (tombstones
   * included) and tombstones. Reads merge them until `compactTable` or the automatic fold past 20%.
   */
  pending?: { rows: number; deletes: number };
}

/** Column list with Arrow type names, or an Arrow Schema. */
export type TableSchema = { fields: ReadonlyArray<{ name: string; type: ColumnType; nullable?: boolean }> } | Schema;

export interface WriteOptions {
  /** Default: the repo's default branch. */
  branch?: string;
  message?: string;
  author?: string;
  txnId?: string;
}

export interface CreateTableOptions extends WriteOptions {
  schema?: TableSchema;
  rows?: Rows;
  primaryKey?: readonly string[];
}

export interface NewColumn {
  name: string;
  type: ColumnType;
  defaultValue?: unknown;
}

export interface CommitResult {
  /** The commit made; with `unchanged`, the branch head (nothing was committed). */
  commit: Commit;
  /** Set when there was nothing to do and no commit was made: compactTable of a compact table, restoreTable of the version it holds, a write that changes no row (an upsert of rows the table holds, an empty append). */
  unchanged?: true;
  table?: string;
  version?: number;
  manifest?: Hash;
  rows?: number;
  chunksWritten?: number;
  chunksReused?: number;
}

export interface RefInfo {
  name: string;
  commit: Hash;
}

export interface BranchReflogEntry {
  /** null when this entry created the branch. */
  old: Hash | null;
  /** null when this entry deleted the branch. */
  new: Hash | null;
  time: number;
  message?: string;
  author?: string;
}

export interface LogOptions extends RefOptions {
  table?: string;
  limit?: number;
}

export interface LogEntry extends Commit {
  /** With `table`: the table's version in this commit (absent when the commit dropped it). */
  tableVersion?: number;
}

export interface DiffOptions {
  /** Only this table. */
  table?: string;
  /** Also compute row-level differences (by key; by position for unkeyed tables). */
  rows?: boolean;
}

export interface DiffResult {
  from: Hash;
  to: Hash;
  tables: TableDiff[];
}

export interface TableDiff {
  table: string;
  status: 'added' | 'removed' | 'modified';
  from?: TreeEntry;
  to?: TreeEntry;
  chunks: { added: ChunkInfo[]; removed: ChunkInfo[] };
  /** JSON-safe values: bigint as number when safe, else decimal string; bytes as base64. */
  rows?: RowDiff;
}

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

export interface MergeOptions {
  /** Ref to merge. */
  source: string;
  /** Branch to merge into (default: the repo's default branch). */
  into?: string;
  strategy?: MergeStrategy;
  message?: string;
  author?: string;
}

export interface MergeConflict {
  table: string;
  /** `table`: both sides dropped/created/overwrote/changed the schema of it; `row`: same key, different edits. */
  kind: 'table' | 'row';
  reason: string;
  key?: unknown[];
  base?: Record<string, unknown> | null;
  ours?: Record<string, unknown> | null;
  theirs?: Record<string, unknown> | null;
  /** A row both sides updated: the columns they changed to different values (the others merge cell by cell). */
  columns?: string[];
}

export interface MergeResult {
  kind: 'fast-forward' | 'merge' | 'up-to-date';
  commit: Commit;
  base: Hash | null;
  /** Conflicts the strategy resolved (empty for `fail`, which throws instead). */
  resolved: MergeConflict[];
}
