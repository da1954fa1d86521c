import { ErrorCode, InvalidArgumentError, isArmillariaError } from '@armillaria/core';
import {
  assertBranchName, isRelativeTime, type CommitResult, type DiffResult, type LogEntry, type MergeResult, type RefInfo, type Rows, type TableDescription, type TableVersion,
  type WriteOptions as CatalogWriteOptions, type GcResult, type VerifyResult,
} from '@armillaria/catalog';
import type { ChangeEvent } from '@armillaria/changelog';
import type { Table } from 'apache-arrow';
import type { Backend, GcRunOptions } from './backend.js';
import { diffVersions } from './diff-versions.js';
import { EmbeddedBackend } from './embedded-backend.js';
import type {
  ConnectOptions, CreateBranchOptions, DiffVersionsOptions, LogOptions, MergeBranchOptions, OpenOptions, QueryOptions, SubscribeOptions,
  CommitOnlyResult, CompactResult, RestoreOptions, RestoreResult, TagOptions, TransactionOptions, TransactionResult, VersionDiff, WriteOptions, WriteResult, WriteTableOptions,
} from './options.js';
import type { EngineQueryOptions, QueryResult } from './query-result.js';
import { RemoteBackend } from './remote-backend.js';
import { Transaction } from './transaction.js';

export const DEFAULT_REPO = 'default';

/** An ISO-8601 time (`2026-01-02`, `2026-01-02T10:00:00Z`): with relative times (`3 days ago`), the `asOf` strings that are not refs. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}([T ]|$)/;

/**
 * Armillaria from TypeScript, the same API embedded (`open`: every service in this process over a
 * data directory, no server) and remote (`connect`: the gateway's HTTP API). Errors are
 * `ArmillariaError` subclasses with a stable `code`, the same class and code in both modes.
 *
 * The instance works in one repository and has a checked-out branch (`checkout`), the default of
 * every call that takes a `branch`.
 */
export class Armillaria {
  private current: string;
  private closed = false;

  private constructor(private readonly backend: Backend, readonly repo: string, readonly defaultBranch: string, branch: string) {
    this.current = branch;
  }

  /** Embedded: opens (creating if needed) the data directory and the repo (default `default`). */
  static async open(dir: string, opts: OpenOptions = {}): Promise<Armillaria> {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('Armillaria.open needs a data directory', { details: { field: 'dir' } });
    const backend = await EmbeddedBackend.open(dir);
    return Armillaria.start(backend, opts, true);
  }

  /** Remote: talks to the gateway at `url` (e.g. `http://127.0.0.1:8080`). */
  static async connect(url: string, opts: ConnectOptions = {}): Promise<Armillaria> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidArgumentError(`not a URL: ${JSON.stringify(url)}`, { details: { field: 'url' } });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgumentError(`the gateway URL must be http(s), not ${parsed.protocol}`, { details: { field: 'url' } });
    const backend = new RemoteBackend({ baseUrl: url, ...(opts.token ? { token: opts.token } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    return Armillaria.start(backend, opts, opts.createRepo ?? true);
  }

  private static async start(backend: Backend, opts: OpenOptions, create: boolean): Promise<Armillaria> {
    const repo = opts.repo ?? DEFAULT_REPO;
    try {
      let info;
      try {
        info = await backend.catalog.getRepo(repo);
      } catch (err) {
        if (!create || !isArmillariaError(err, ErrorCode.RepoNotFound)) throw err;
        try {
          info = await backend.catalog.createRepo(repo);
        } catch (e) {
          // Another process created it first.
          if (!isArmillariaError(e, ErrorCode.RefConflict)) throw e;
          info = await backend.catalog.getRepo(repo);
        }
      }
      const branch = opts.branch ?? info.defaultBranch;
      assertBranchName(branch);
      return new Armillaria(backend, repo, info.defaultBranch, branch);
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
  }

  get mode(): 'embedded' | 'remote' {
    return this.backend.mode;
  }

  /** The checked-out branch. */
  get branch(): string {
    return this.current;
  }

  // ---- writes (each one commit on the branch)

  /** Overwrite: the table holds exactly `rows` afterwards. Creates it (schema inferred, `primaryKey` if given) when absent. */
  writeTable(table: string, rows: Rows, opts: WriteTableOptions = {}): Promise<WriteResult> {
    return this.write(table, rows, opts, (w) => this.backend.catalog.write(this.repo, table, rows, w), true);
  }

  /** Appends rows (insert-only on keyed tables: DUPLICATE_KEY for an existing key). Creates an absent table. */
  appendRows(table: string, rows: Rows, opts: WriteTableOptions = {}): Promise<WriteResult> {
    return this.write(table, rows, opts, (w) => this.backend.catalog.append(this.repo, table, rows, w), true);
  }

  /** Insert or replace by primary key (PRIMARY_KEY_REQUIRED on unkeyed tables). Creates an absent table only with `primaryKey`. */
  upsert(table: string, rows: Rows, opts: WriteTableOptions = {}): Promise<WriteResult> {
    return this.write(table, rows, opts, (w) => this.backend.catalog.upsert(this.repo, table, rows, w), opts.primaryKey !== undefined);
  }

  /** Deletes rows whose primary key is in `keys` (objects holding at least the key columns). */
  deleteRows(table: string, keys: Rows, opts: WriteOptions = {}): Promise<WriteResult> {
    return this.write(table, keys, opts, (w) => this.backend.catalog.deleteRows(this.repo, table, keys, w), false);
  }

  /** Drops a table (TABLE_NOT_FOUND when absent). Its history stays: earlier versions still read with `asOf`. */
  async dropTable(table: string, opts: WriteOptions = {}): Promise<CommitOnlyResult> {
    this.assertOpen();
    const w = this.writeOptions(opts);
    const r = await this.backend.catalog.dropTable(this.repo, table, w);
    return { commit: r.commit.hash, branch: w.branch as string };
  }

  /**
   * Undoes the changes of `commit` (a hash, prefix, tag or `ref@{time}`) with a new commit on the branch. A table
   * untouched since comes back whole; otherwise the commit's row changes are inverted by key, and a key changed
   * again since is a MERGE_CONFLICT (the error's `details.conflicts`), with nothing written.
   */
  async revert(commit: string, opts: WriteOptions = {}): Promise<CommitOnlyResult> {
    this.assertOpen();
    const w = this.writeOptions(opts);
    const r = await this.backend.catalog.revert(this.repo, commit, w);
    return { commit: r.commit.hash, branch: w.branch as string };
  }

  /**
   * Makes an earlier version of a table its newest, as a new commit: `version` along the branch, or the
   * table as of `asOf` (a time on the branch, or a commit, tag or `main~2`). Zero copy: the new version
   * points at the old one's files (like Delta Lake's RESTORE); subscribers see `restored` with its row
   * changes. A dropped table comes back (`created` for subscribers). `restored: false` when it already
   * holds that version.
   */
  async restoreTable(table: string, opts: RestoreOptions): Promise<RestoreResult> {
    this.assertOpen();
    const w = this.writeOptions(opts);
    const t = opts.asOf === undefined ? {} : this.target(w.branch, opts.asOf);
    const r = await this.backend.catalog.restoreTable(this.repo, table, {
      ...w, ...(opts.version !== undefined ? { version: opts.version } : {}), ...(t.ref !== undefined ? { ref: t.ref } : {}), ...(t.asOf !== undefined ? { asOf: t.asOf } : {}),
    });
    return { table, version: r.version ?? 0, commit: r.commit.hash, restored: !r.unchanged, rows: r.rows ?? 0 };
  }

  private writeOptions(opts: WriteOptions): CatalogWriteOptions {
    return { branch: opts.branch ?? this.current, ...(opts.message ? { message: opts.message } : {}), ...(opts.author ? { author: opts.author } : {}) };
  }

  /**
   * Rewrites a table's storage for reading, same rows: a keyed table's pending merge-on-read changes
   * (scattered upserts and deletes, kept apart until they reach 20% of the table) are folded in, an
   * unkeyed table's small appended chunks merged. Run it after a burst of small writes, as Delta Lake's
   * OPTIMIZE. A new table version (`compacted` in the changelog, no row changes), or nothing when the
   * table is already compact.
   */
  async compactTable(table: string, opts: WriteOptions = {}): Promise<CompactResult> {
    this.assertOpen();
    const r = await this.backend.catalog.compactTable(this.repo, table, this.writeOptions(opts));
    return {
      table, version: r.version ?? 0, commit: r.commit.hash, compacted: !r.unchanged, rows: r.rows ?? 0, chunksWritten: r.chunksWritten ?? 0, chunksReused: r.chunksReused ?? 0,
    };
  }

  private async write(
    table: string, rows: Rows, opts: WriteTableOptions, op: (w: CatalogWriteOptions) => Promise<CommitResult>, mayCreate: boolean,
  ): Promise<WriteResult> {
    this.assertOpen();
    const w = this.writeOptions(opts);
    let result: CommitResult;
    let created = false;
    try {
      result = await op(w);
    } catch (err) {
      if (!mayCreate || !isArmillariaError(err, ErrorCode.TableNotFound)) throw err;
      try {
        result = await this.backend.catalog.createTable(this.repo, table, { ...w, rows, ...(opts.primaryKey ? { primaryKey: opts.primaryKey } : {}) });
        created = true;
      } catch (e) {
        // Created by someone else meanwhile: now the write applies.
        if (!isArmillariaError(e, ErrorCode.TableExists)) throw e;
        result = await op(w);
      }
    }
    return { table, version: result.version ?? 0, commit: result.commit.hash, rows: result.rows ?? 0, created, changed: !result.unchanged };
  }

  // ---- reads

  /** SQL (DuckDB dialect, read-only) over the tables of a branch, a moment, a ref or per-table versions. */
  async query<Row = Record<string, unknown>>(sql: string, opts: QueryOptions = {}): Promise<QueryResult<Row>> {
    this.assertOpen();
    if (typeof sql !== 'string' || sql.trim() === '') throw new InvalidArgumentError('query needs an SQL string', { details: { field: 'sql' } });
    const engine: EngineQueryOptions = { ...this.target(opts.branch, opts.asOf) };
    if (opts.versions) engine.versions = opts.versions;
    if (opts.timeoutMs !== undefined) engine.timeoutMs = opts.timeoutMs;
    if (opts.maxRows !== undefined) engine.maxRows = opts.maxRows;
    return (await this.backend.query(this.repo, sql, engine)) as QueryResult<Row>;
  }

  /** A table's rows as an Arrow table, at a branch, moment/ref (`asOf`) or per-table `version`. */
  readTable(table: string, opts: { branch?: string; asOf?: QueryOptions['asOf']; version?: number; columns?: readonly string[] } = {}): Promise<Table> {
    this.assertOpen();
    const t = this.target(opts.branch, opts.asOf);
    return this.backend.catalog.read(this.repo, table, {
      ref: t.ref ?? t.branch, ...(t.asOf !== undefined ? { asOf: t.asOf } : {}), ...(opts.version !== undefined ? { version: opts.version } : {}),
      ...(opts.columns ? { columns: opts.columns } : {}),
    });
  }

  /** Tables of a branch (default: checked out) with their current versions. */
  listTables(opts: { branch?: string; asOf?: QueryOptions['asOf'] } = {}): Promise<TableVersion[]> {
    this.assertOpen();
    const t = this.target(opts.branch, opts.asOf);
    return this.backend.catalog.listTables(this.repo, { ref: t.ref ?? t.branch, ...(t.asOf !== undefined ? { asOf: t.asOf } : {}) });
  }

  describeTable(table: string, opts: { branch?: string; version?: number } = {}): Promise<TableDescription> {
    this.assertOpen();
    return this.backend.catalog.describeTable(this.repo, table, { ref: opts.branch ?? this.current, ...(opts.version !== undefined ? { version: opts.version } : {}) });
  }

  /** Row-level differences between two versions of a table (numbered along the branch's history). */
  diffVersions(table: string, from: number, to: number, opts: DiffVersionsOptions = {}): Promise<VersionDiff> {
    this.assertOpen();
    return diffVersions(this.backend.catalog, this.repo, table, from, to, { ...opts, branch: opts.branch ?? this.current });
  }

  /** What changed between two refs (branch, tag, commit, `ref@{time}`): per table, and row-level with `rows`. */
  diff(from: string, to: string, opts: { table?: string; rows?: boolean } = {}): Promise<DiffResult> {
    this.assertOpen();
    return this.backend.catalog.diff(this.repo, from, to, { ...(opts.table ? { table: opts.table } : {}), ...(opts.rows ? { rows: true } : {}) });
  }

  /** Commits newest first; with `table`, only those that changed it (each with `tableVersion`). */
  log(opts: LogOptions = {}): Promise<LogEntry[]> {
    this.assertOpen();
    return this.backend.catalog.log(this.repo, {
      ref: opts.branch ?? this.current, ...(opts.table ? { table: opts.table } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}),
    });
  }

  // ---- branches and tags

  /** A branch at the head of the checked-out branch (or `from`): one ref written, whatever the data size. */
  createBranch(name: string, opts: CreateBranchOptions = {}): Promise<RefInfo> {
    this.assertOpen();
    return this.backend.catalog.createBranch(this.repo, name, { from: opts.from ?? this.current, ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}) });
  }

  /** Makes `name` the default branch of later calls. The name is checked now; its existence on first use (BRANCH_NOT_FOUND). */
  checkout(name: string): void {
    this.assertOpen();
    assertBranchName(name);
    this.current = name;
  }

  listBranches(): Promise<RefInfo[]> {
    this.assertOpen();
    return this.backend.catalog.listBranches(this.repo);
  }

  /** The default branch cannot be deleted (INVALID_ARGUMENT), nor the checked-out one. */
  async deleteBranch(name: string): Promise<void> {
    this.assertOpen();
    if (name === this.current) throw new InvalidArgumentError(`branch ${name} is checked out: check out another branch first`, { details: { branch: name } });
    await this.backend.catalog.deleteBranch(this.repo, name);
  }

  /**
   * Three-way merge of `source` into `into` (default: the repo's default branch). With the default
   * strategy `fail`, conflicting edits throw MergeConflictError (code MERGE_CONFLICT, `conflicts` in
   * its details) and nothing is written.
   */
  async mergeBranch(source: string, opts: MergeBranchOptions = {}): Promise<MergeResult> {
    this.assertOpen();
    const into = opts.into ?? this.defaultBranch;
    return this.backend.catalog.merge(this.repo, {
      source, into, ...(opts.strategy ? { strategy: opts.strategy } : {}), ...(opts.message ? { message: opts.message } : {}),
      ...(opts.author ? { author: opts.author } : {}),
    });
  }

  /** Tags the head of the checked-out branch (or `ref`). Tags never move (TAG_EXISTS). */
  tag(name: string, opts: TagOptions = {}): Promise<RefInfo> {
    this.assertOpen();
    return this.backend.catalog.createTag(this.repo, name, { ref: opts.ref ?? this.current, ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}) });
  }

  /**
   * Garbage collection of the whole store (every repo shares deduplicated chunks): keeps everything
   * reachable from branches, tags, recent history (`retainHistoryMs`, default 7 days) and open
   * transactions, never sweeps chunks younger than `graceMs` (default 1 hour). `dryRun` only counts.
   * Remote: needs an admin token.
   */
  gc(opts: GcRunOptions = {}): Promise<GcResult> {
    this.assertOpen();
    return this.backend.gc(opts);
  }

  /**
   * Re-hashes every chunk this repo's retained history needs and checks every commit, tree and
   * manifest parses. `ok` is false when anything is missing or corrupt; `problems` name the commits
   * and tables affected.
   */
  verify(opts: { allRepos?: boolean } = {}): Promise<VerifyResult> {
    this.assertOpen();
    return this.backend.verify(opts.allRepos ? {} : { repo: this.repo });
  }

  listTags(): Promise<RefInfo[]> {
    this.assertOpen();
    return this.backend.catalog.listTags(this.repo);
  }

  deleteTag(name: string): Promise<void> {
    this.assertOpen();
    return this.backend.catalog.deleteTag(this.repo, name);
  }

  // ---- transactions and changes

  /**
   * Runs `fn` in a transaction across tables: committed when it returns, aborted when it throws (the
   * error is rethrown). A concurrent conflicting commit makes the commit throw TxnConflictError
   * (code TXN_CONFLICT) and nothing is visible.
   */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>, opts: TransactionOptions = {}): Promise<TransactionResult<T>> {
    this.assertOpen();
    if (typeof fn !== 'function') throw new InvalidArgumentError('transaction needs a callback', { details: { field: 'fn' } });
    const txn = this.backend.txn;
    const info = await txn.begin({ repo: this.repo, branch: opts.branch ?? this.current, ...(opts.isolation ? { isolation: opts.isolation } : {}) });
    let value: T;
    try {
      value = await fn(new Transaction(txn, info));
    } catch (err) {
      await txn.abort(info.id, err instanceof Error ? err.message.slice(0, 200) : 'callback threw').catch(() => undefined);
      throw err;
    }
    const r = await txn.commit(info.id, {
      ...(opts.message ? { message: opts.message } : {}), ...(opts.author ? { author: opts.author } : {}),
      ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
    });
    return { value, commit: r.commit, tables: r.tables, rebased: r.rebased };
  }

  /**
   * Change events of `tables` (one name, several, or all when omitted) on a branch: replays history
   * from `from` (default `latest`: nothing old), then follows live commits, with no gap and no
   * duplicate. End it with `break`, or `signal`.
   */
  subscribe(tables?: string | readonly string[], opts: SubscribeOptions = {}): AsyncIterable<ChangeEvent> {
    this.assertOpen();
    const list = tables === undefined ? undefined : typeof tables === 'string' ? [tables] : [...tables];
    return this.backend.subscribe({
      repo: this.repo, branch: opts.branch ?? this.current, ...(list ? { tables: list } : {}), from: opts.from ?? 'latest',
      ...(opts.rows ? { rows: true } : {}), ...(opts.durableName ? { durableName: opts.durableName } : {}), ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Releases files, connections and the query engine. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new InvalidArgumentError('this Armillaria instance is closed', { details: { field: 'closed' } });
  }

  /** `asOf` strings that are not times are refs (commit, tag, branch) and replace the branch. */
  private target(branch: string | undefined, asOf: QueryOptions['asOf']): { branch?: string; ref?: string; asOf?: Exclude<QueryOptions['asOf'], undefined> } {
    const b = branch ?? this.current;
    if (asOf === undefined) return { branch: b };
    if (typeof asOf === 'string' && !ISO_TIME.test(asOf) && !isRelativeTime(asOf)) return { ref: asOf };
    if (!(asOf instanceof Date) && typeof asOf !== 'number' && typeof asOf !== 'string') {
      throw new InvalidArgumentError('asOf must be a Date, ms since epoch, an ISO time, a commit or a tag', { details: { field: 'asOf' } });
    }
    return { branch: b, asOf };
  }
}
