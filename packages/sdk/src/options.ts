import type { AsOf, MergeStrategy, Rows } from '@armillaria/catalog';
import type { SubscribeFrom } from '@armillaria/changelog';
import type { Isolation } from '@armillaria/txn-coordinator';

export type { Rows };

export interface OpenOptions {
  /** Repository to work in (default `default`); created on first open. */
  repo?: string;
  /** Branch checked out at start (default: the repo's default branch). */
  branch?: string;
}

export interface ConnectOptions extends OpenOptions {
  /** API token, sent as `Authorization: Bearer`. Never logged. */
  token?: string;
  /** Create the repo when it does not exist (default true; needs an admin token). */
  createRepo?: boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export interface WriteOptions {
  /** Default: the checked-out branch. */
  branch?: string;
  message?: string;
  author?: string;
}

/** What `dropTable` and `revert` commit. */
export interface CommitOnlyResult {
  commit: string;
  branch: string;
}

export interface WriteTableOptions extends WriteOptions {
  /** Key columns, used when this call creates the table (ignored for an existing table). */
  primaryKey?: readonly string[];
}

export interface WriteResult {
  table: string;
  /** The table's version after the write. */
  version: number;
  commit: string;
  /** Rows in the table afterwards. */
  rows: number;
  /** The call created the table. */
  created: boolean;
  /**
   * False when no row changed (an upsert of rows the table holds, a delete of absent keys, an empty
   * append): no commit was made, `commit` is the branch head and `version` the table's current one.
   */
  changed: boolean;
}

/** What `compactTable` did. */
/** Which earlier version `restoreTable` brings back: `version` along the branch, or the table as of `asOf`. */
export interface RestoreOptions extends WriteOptions {
  version?: number;
  /** A time (Date, ms, ISO, `3 days ago`) on the branch, or a ref (commit, tag, `main~2`). */
  asOf?: Date | number | string;
}

export interface RestoreResult {
  table: string;
  /** The table's version afterwards: a new number for the restored contents. */
  version: number;
  /** The restore commit, or the branch head when nothing was committed. */
  commit: string;
  /** False when the table already held that version (no commit was made). */
  restored: boolean;
  rows: number;
}

export interface CompactResult {
  table: string;
  /** The table's version afterwards (unchanged when it was already compact). */
  version: number;
  /** The compaction commit, or the branch head when nothing was committed. */
  commit: string;
  /** False when the table was already compact (no commit was made). */
  compacted: boolean;
  rows: number;
  chunksWritten: number;
  chunksReused: number;
}

/**
 * Which data a query reads. Without `branch`/`asOf`: the checked-out branch.
 * `asOf`: a Date or ms since epoch (the state then), an ISO-8601 time string, or a commit hash (or
 * unique prefix) or tag name. `versions` pins tables to per-table version numbers.
 */
export interface QueryOptions {
  branch?: string;
  asOf?: AsOf;
  versions?: Record<string, number>;
  timeoutMs?: number;
  maxRows?: number;
}

export interface DiffVersionsOptions {
  /** Match rows by these columns (default: the table's primary key; by position for unkeyed tables). */
  keyColumns?: readonly string[];
  /** Branch whose history numbers the versions (default: the checked-out branch). */
  branch?: string;
}

export interface VersionDiff {
  table: string;
  from: number;
  to: number;
  keyColumns: string[];
  added: Array<Record<string, unknown>>;
  removed: Array<Record<string, unknown>>;
  changed: Array<{ key: unknown[]; before: Record<string, unknown>; after: Record<string, unknown> }>;
}

export interface CreateBranchOptions {
  /** Branch, tag or commit to start from (default: the checked-out branch). */
  from?: string;
  asOf?: AsOf;
}

export interface MergeBranchOptions {
  /** Branch to merge into (default: the repo's default branch). */
  into?: string;
  /** `fail` (default) throws MergeConflictError and writes nothing; `ours`/`theirs` resolve conflicts. */
  strategy?: MergeStrategy;
  message?: string;
  author?: string;
}

export interface TransactionOptions {
  /** Default: the checked-out branch. */
  branch?: string;
  isolation?: Isolation;
  message?: string;
  author?: string;
  /** Committing the same key twice commits once. */
  idempotencyKey?: string;
}

export interface TransactionResult<T> {
  /** What the callback returned. */
  value: T;
  commit: string;
  tables: string[];
  /** The transaction was replayed onto a newer head whose changes did not conflict. */
  rebased: boolean;
}

export interface SubscribeOptions {
  /** Default `latest` (only changes from now on); `earliest` replays the whole history first. */
  from?: SubscribeFrom;
  /** Default: the checked-out branch at the time of the call. */
  branch?: string;
  /** Attach row-level records (insert/delete/update) to each event. */
  rows?: boolean;
  /** Keep a cursor under this name: a restarted subscriber resumes after its last event. */
  durableName?: string;
  signal?: AbortSignal;
}

export interface LogOptions {
  /** Only commits that changed this table (each with its `tableVersion`). */
  table?: string;
  /** Default: the checked-out branch. */
  branch?: string;
  asOf?: AsOf;
  limit?: number;
}

export interface TagOptions {
  /** What to tag (default: the head of the checked-out branch). */
  ref?: string;
  asOf?: AsOf;
}
