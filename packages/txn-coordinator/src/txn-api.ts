import type { Hash } from '@armillaria/core';
import type { ColumnType } from '@armillaria/catalog';
import type { Schema, Table } from 'apache-arrow';

/**
 * What a transaction client can do. `TxnCoordinator` implements it in-process and `RemoteTxnClient`
 * over HTTP; both throw the same typed errors (TXN_NOT_FOUND, TXN_ABORTED, TXN_TIMEOUT, TXN_CONFLICT,
 * plus the catalog's TABLE_NOT_FOUND, TABLE_EXISTS, SCHEMA_MISMATCH, PRIMARY_KEY_REQUIRED, ...).
 *
 * Every staging call uploads its chunks and manifest at once (they are immutable and content
 * addressed, so an aborted transaction leaves only unreferenced chunks for gc) and resets the idle timer.
 */
export interface TxnApi {
  /** Pins the head of `branch` (default `main`) as the snapshot every read sees. */
  begin(opts: BeginOptions): Promise<TxnInfo>;
  /** `table` at the snapshot, with this transaction's own writes applied. TABLE_NOT_FOUND if absent. */
  read(txnId: string, table: string, opts?: TxnReadOptions): Promise<Table>;
  /** Overwrite: the table holds exactly `rows` afterwards. */
  write(txnId: string, table: string, rows: Rows): Promise<StageResult>;
  /** Blind append (insert-only on keyed tables). */
  append(txnId: string, table: string, rows: Rows): Promise<StageResult>;
  /** Insert or replace by primary key. */
  upsert(txnId: string, table: string, rows: Rows): Promise<StageResult>;
  /** Deletes rows whose key is in `keys` (rows holding at least the key columns). */
  deleteRows(txnId: string, table: string, keys: Rows): Promise<StageResult>;
  /** TABLE_EXISTS if it exists in the transaction's view. */
  createTable(txnId: string, table: string, opts: CreateTableInTxn): Promise<StageResult>;
  dropTable(txnId: string, table: string): Promise<StageResult>;
  /** Schema change: a new nullable column. Conflicts with any concurrent change to the table. */
  addColumn(txnId: string, table: string, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<StageResult>;
  /**
   * Two-phase commit (see README). Returns the commit, or throws TXN_CONFLICT naming the table and
   * keys; on conflict the transaction is aborted. With `idempotencyKey`, a key that already committed
   * returns that first commit (`deduplicated: true`) and commits nothing.
   */
  commit(txnId: string, opts?: CommitOptions): Promise<TxnCommitResult>;
  /** Drops the staged writes. Aborting an aborted transaction is a no-op; a committed one: TXN_ABORTED is not thrown, INVALID_ARGUMENT is. */
  abort(txnId: string, reason?: string): Promise<TxnStatus>;
  /** Live transactions of this coordinator and every transaction in the durable log. */
  status(txnId: string): Promise<TxnStatus>;
  close(): Promise<void>;
}

export type Isolation = 'snapshot' | 'serializable';

/** Rows in: an Arrow table, or plain objects converted with the table's schema. */
export type Rows = Table | ReadonlyArray<Record<string, unknown>>;

/** Column list with Arrow type names, or an Arrow Schema. */
export type TableSchema = { fields: ReadonlyArray<{ name: string; type: ColumnType; nullable?: boolean }> } | Schema;

export interface BeginOptions {
  repo: string;
  /** Default `main`. */
  branch?: string;
  /** Default `snapshot`. `serializable` also fails the commit when a table it read changed since begin. */
  isolation?: Isolation;
  /** Abort after this long without a call (default: the coordinator's `idleTimeoutMs`). */
  idleTimeoutMs?: number;
}

export interface TxnInfo {
  id: string;
  repo: string;
  branch: string;
  isolation: Isolation;
  /** The pinned snapshot. */
  base: Hash;
  startedAt: number;
}

export interface TxnReadOptions {
  columns?: readonly string[];
}

export interface CreateTableInTxn {
  schema?: TableSchema;
  rows?: Rows;
  primaryKey?: readonly string[];
}

export interface StageResult {
  table: string;
  /** The table's manifest in the transaction's view; null once dropped. */
  manifest: Hash | null;
  /** Rows in the table's view after this call. */
  rows: number;
}

export interface CommitOptions {
  message?: string;
  author?: string;
  idempotencyKey?: string;
}

export interface TxnCommitResult {
  txnId: string;
  /** The commit now on the branch; with `deduplicated`, the first commit of the idempotency key. */
  commit: Hash;
  /** Its first parent (the head the transaction was finally rebased onto). */
  parent: Hash | null;
  /** Tables this commit changed. */
  tables: string[];
  /** Compare-and-swap attempts (1 when the branch did not move). */
  attempts: number;
  /** The transaction was replayed onto a newer head whose changes did not conflict. */
  rebased: boolean;
  deduplicated: boolean;
  /** Change events reached the bus (false: they stay in the log and recovery republishes them). */
  published: boolean;
}

/** ACTIVE (staging) -> PREPARED (durable record, validating) -> COMMITTED (ref moved) -> DONE (events published); or ABORTED. */
export type TxnState = 'ACTIVE' | 'PREPARED' | 'COMMITTED' | 'DONE' | 'ABORTED';

export interface TxnStatus {
  id: string;
  state: TxnState;
  repo: string;
  branch: string;
  isolation?: Isolation;
  base?: Hash;
  commit?: Hash;
  /** Why it was aborted. */
  reason?: string;
  /** Tables written so far (ACTIVE) or changed by the commit. */
  tables: string[];
}
