import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, type Hash } from '@armillaria/core';
import type { ColumnType, TableFormat } from '@armillaria/catalog';
import type { ChangeBus } from '@armillaria/changelog';
import type { Table } from 'apache-arrow';
import type { CatalogPort, CommitInfo, TreeSnapshot } from './catalog-port.js';
import { CommitProtocol, MAX_GROUP, type RecoveryReport } from './commit-protocol.js';
import { TxnAbortedError, TxnNotFoundError, TxnTimeoutError } from './errors.js';
import { parseFaultPoint, type FaultPoint } from './faults.js';
import { assertIdempotencyKey, assertTxnId } from './logs/log-args.js';
import { applyOp, assertTableName, createOp, noteKeys, prepareOp, tableNotFound, type StagedOp, type StagedTable } from './staging.js';
import type {
  BeginOptions, CommitOptions, CreateTableInTxn, Isolation, Rows, StageResult, TxnApi, TxnCommitResult, TxnInfo, TxnReadOptions, TxnStatus,
} from './txn-api.js';
import type { TxnLog } from './txn-log.js';

export interface TxnCoordinatorOptions {
  catalog: CatalogPort;
  /** The table format the catalog stores tables with (same chunk store). */
  tables: TableFormat;
  log: TxnLog;
  /** Where change events go; without one, events stay in the txn records only. */
  bus?: ChangeBus;
  /** Abort a transaction after this long without a call (default 60 s). */
  idleTimeoutMs?: number;
  /** Run recovery this often (default 30 s; 0 turns the timer off). `start()` runs it once at once. */
  recoveryIntervalMs?: number;
  /** A PREPARED record older than this belongs to a dead process (default 60 s). */
  staleAfterMs?: number;
  maxCommitAttempts?: number;
  /**
   * Group commit: most transactions to one branch landed together, as a chain of commits moved with one
   * compare-and-swap (default 64, at most 256; 1 commits one transaction per turn).
   */
  maxGroupCommit?: number;
  idempotencyWaitMs?: number;
  /** Crash-test fault point; defaults to env ARMILLARIA_FAULT. */
  fault?: FaultPoint;
  /** How many finished transactions `status` remembers in memory (the log remembers all). Default 10 000. */
  finishedCacheSize?: number;
}

interface LiveTxn {
  info: TxnInfo;
  base: CommitInfo;
  baseTree: TreeSnapshot;
  tables: Map<string, StagedTable>;
  reads: Set<string>;
  state: 'ACTIVE' | 'COMMITTING' | 'DONE' | 'ABORTED';
  reason?: string;
  timedOut?: boolean;
  commit?: Hash;
  changed?: string[];
  idleMs: number;
  timer?: NodeJS.Timeout;
  /** Calls on one transaction run one at a time, in order. */
  queue: Promise<unknown>;
}

/**
 * The in-process transaction coordinator: snapshot at begin, staged writes uploaded as they come,
 * and the two-phase commit of `CommitProtocol`. Call `start()` once to run recovery (and its timer).
 */
export class TxnCoordinator implements TxnApi {
  private readonly live = new Map<string, LiveTxn>();
  private readonly finished = new Map<string, LiveTxn>();
  private readonly protocol: CommitProtocol;
  private readonly idleTimeoutMs: number;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<RecoveryReport> | undefined;
  private closed = false;

  constructor(private readonly o: TxnCoordinatorOptions) {
    this.idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
    if (o.maxGroupCommit !== undefined && !(Number.isInteger(o.maxGroupCommit) && o.maxGroupCommit >= 1 && o.maxGroupCommit <= MAX_GROUP)) {
      throw new InvalidArgumentError(`maxGroupCommit must be an integer from 1 to ${MAX_GROUP}`, { details: { field: 'maxGroupCommit' } });
    }
    const fault = o.fault ?? parseFaultPoint(process.env.ARMILLARIA_FAULT);
    this.protocol = new CommitProtocol({
      catalog: o.catalog, format: o.tables, log: o.log, ...(o.bus ? { bus: o.bus } : {}), ...(fault ? { fault } : {}),
      maxAttempts: o.maxCommitAttempts ?? 200, staleAfterMs: o.staleAfterMs ?? 60_000, idempotencyWaitMs: o.idempotencyWaitMs ?? 10_000,
      ...(o.maxGroupCommit !== undefined ? { maxGroup: o.maxGroupCommit } : {}),
    });
  }

  /** Runs recovery once, then every `recoveryIntervalMs`. */
  async start(): Promise<RecoveryReport> {
    const report = await this.recover();
    const every = this.o.recoveryIntervalMs ?? 30_000;
    if (every > 0 && !this.recoveryTimer) {
      this.recoveryTimer = setInterval(() => void this.recover().catch(() => {}), every);
      this.recoveryTimer.unref();
    }
    return report;
  }

  /** Finishes COMMITTED records and settles stale PREPARED ones (see CommitProtocol.resolve). */
  recover(): Promise<RecoveryReport> {
    this.recovering ??= this.protocol.recover().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  async begin(opts: BeginOptions): Promise<TxnInfo> {
    if (!opts || typeof opts.repo !== 'string' || !opts.repo) throw new InvalidArgumentError('begin needs a repo', { details: { field: 'repo' } });
    const isolation: Isolation = opts.isolation ?? 'snapshot';
    if (isolation !== 'snapshot' && isolation !== 'serializable') {
      throw new InvalidArgumentError(`isolation must be snapshot or serializable, not ${JSON.stringify(isolation)}`, { details: { field: 'isolation' } });
    }
    const idleMs = opts.idleTimeoutMs ?? this.idleTimeoutMs;
    if (!Number.isInteger(idleMs) || idleMs <= 0) throw new InvalidArgumentError('idleTimeoutMs must be a positive integer', { details: { field: 'idleTimeoutMs' } });
    const branch = opts.branch ?? 'main';
    const head = await this.o.catalog.getBranch(opts.repo, branch);
    const base = await this.o.catalog.readCommit(opts.repo, head.commit);
    const baseTree = await this.o.catalog.readTree(opts.repo, base.tree);
    const info: TxnInfo = { id: `txn-${randomUUID()}`, repo: opts.repo, branch, isolation, base: base.hash, startedAt: Date.now() };
    const txn: LiveTxn = { info, base, baseTree, tables: new Map(), reads: new Set(), state: 'ACTIVE', idleMs, queue: Promise.resolve() };
    this.live.set(info.id, txn);
    this.touch(txn);
    return { ...info };
  }

  read(txnId: string, table: string, opts: TxnReadOptions = {}): Promise<Table> {
    return this.call(txnId, async (txn) => {
      assertTableName(table);
      const manifest = this.view(txn, table);
      if (manifest === null) throw tableNotFound(table);
      if (txn.info.isolation === 'serializable' && !txn.tables.get(table)?.ops.length) txn.reads.add(table);
      return this.o.tables.read(manifest, opts.columns ? { columns: opts.columns } : {});
    });
  }

  write(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stageRows(txnId, table, 'write', rows);
  }
  append(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stageRows(txnId, table, 'append', rows);
  }
  upsert(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stageRows(txnId, table, 'upsert', rows);
  }
  deleteRows(txnId: string, table: string, keys: Rows): Promise<StageResult> {
    return this.stageRows(txnId, table, 'delete', keys);
  }

  createTable(txnId: string, table: string, opts: CreateTableInTxn): Promise<StageResult> {
    return this.call(txnId, async (txn) => {
      assertTableName(table);
      return this.stage(txn, table, createOp(table, opts ?? {}));
    });
  }

  dropTable(txnId: string, table: string): Promise<StageResult> {
    return this.call(txnId, async (txn) => {
      assertTableName(table);
      return this.stage(txn, table, { kind: 'drop' });
    });
  }

  addColumn(txnId: string, table: string, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<StageResult> {
    return this.call(txnId, async (txn) => {
      assertTableName(table);
      if (!column || typeof column.name !== 'string' || typeof column.type !== 'string') {
        throw new InvalidArgumentError('addColumn needs {name, type}', { details: { table } });
      }
      return this.stage(txn, table, { kind: 'addColumn', column: { ...column } });
    });
  }

  async commit(txnId: string, opts: CommitOptions = {}): Promise<TxnCommitResult> {
    if (opts.idempotencyKey !== undefined) assertIdempotencyKey(opts.idempotencyKey);
    return this.call(txnId, async (txn) => {
      txn.state = 'COMMITTING';
      clearTimeout(txn.timer);
      try {
        const result = await this.protocol.commit(
          { id: txn.info.id, repo: txn.info.repo, branch: txn.info.branch, base: txn.base, baseTree: txn.baseTree, tables: txn.tables, readSet: txn.reads },
          { message: opts.message ?? `transaction ${txn.info.id}`, author: opts.author ?? 'armillaria', ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}) },
        );
        this.settle(txn, 'DONE', { commit: result.commit, changed: result.tables });
        return result;
      } catch (err) {
        const record = await this.o.log.get(txn.info.id).catch(() => undefined);
        if (record && (record.state === 'PREPARED' || record.state === 'COMMITTED')) {
          // Outcome unknown (the ref store failed mid-commit): the durable record is the truth from now
          // on, and recovery settles it. `status` reads it from the log.
          this.forget(txn);
        } else {
          this.settle(txn, 'ABORTED', { reason: `commit failed: ${(err as Error).message}` });
        }
        throw err;
      }
    });
  }

  async abort(txnId: string, reason = 'aborted by the client'): Promise<TxnStatus> {
    assertTxnId(txnId);
    const txn = this.live.get(txnId);
    if (txn && txn.state === 'ACTIVE') this.settle(txn, 'ABORTED', { reason });
    else if (!txn && !this.finished.has(txnId) && !(await this.o.log.get(txnId))) throw new TxnNotFoundError(txnId);
    const status = await this.status(txnId);
    if (status.state !== 'ABORTED' && status.state !== 'ACTIVE') {
      throw new InvalidArgumentError(`transaction ${txnId} is ${status.state} and can no longer be aborted`, { details: { txnId, state: status.state } });
    }
    return status;
  }

  async status(txnId: string): Promise<TxnStatus> {
    assertTxnId(txnId);
    const txn = this.live.get(txnId) ?? this.finished.get(txnId);
    if (txn) {
      const state = txn.state === 'COMMITTING' ? 'PREPARED' : txn.state;
      const tables = txn.changed ?? [...txn.tables].filter(([, s]) => s.ops.length > 0).map(([t]) => t);
      return {
        id: txnId, state, repo: txn.info.repo, branch: txn.info.branch, isolation: txn.info.isolation, base: txn.base.hash, tables,
        ...(txn.commit ? { commit: txn.commit } : {}), ...(txn.reason ? { reason: txn.reason } : {}),
      };
    }
    const record = await this.o.log.get(txnId);
    if (!record) throw new TxnNotFoundError(txnId);
    return {
      id: txnId, state: record.state, repo: record.repo, branch: record.branch, base: record.base, tables: record.events.map((e) => e.table),
      ...(record.commit ? { commit: record.commit } : {}), ...(record.reason ? { reason: record.reason } : {}),
    };
  }

  /** Transactions currently staging or committing in this process. */
  activeCount(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.recoveryTimer);
    for (const txn of [...this.live.values()]) if (txn.state === 'ACTIVE') this.settle(txn, 'ABORTED', { reason: 'coordinator closed' });
    await Promise.allSettled([...this.live.values()].map((t) => t.queue));
    await this.recovering?.catch(() => {});
  }

  // ---- internals

  private stageRows(txnId: string, table: string, kind: 'write' | 'append' | 'upsert' | 'delete', rows: Rows): Promise<StageResult> {
    return this.call(txnId, async (txn) => {
      assertTableName(table);
      return this.stage(txn, table, await prepareOp(this.o.tables, this.view(txn, table), table, kind, rows));
    });
  }

  private async stage(txn: LiveTxn, table: string, op: StagedOp): Promise<StageResult> {
    const staged: StagedTable = txn.tables.get(table) ?? { base: txn.baseTree.tables[table], manifest: txn.baseTree.tables[table]?.manifest ?? null, ops: [], keys: new Map() };
    const manifest = await applyOp(this.o.tables, txn.info.repo, table, staged.manifest, op);
    await noteKeys(this.o.tables, staged, op);
    staged.ops.push(op);
    staged.manifest = manifest;
    txn.tables.set(table, staged);
    const rows = manifest === null ? 0 : (await this.o.tables.readManifest(manifest)).rows;
    return { table, manifest, rows };
  }

  /** The table's manifest in the transaction's view (own writes first, then the snapshot). */
  private view(txn: LiveTxn, table: string): Hash | null {
    const staged = txn.tables.get(table);
    if (staged) return staged.manifest;
    return txn.baseTree.tables[table]?.manifest ?? null;
  }

  /** Runs `fn` on an ACTIVE transaction, after its earlier calls; the idle timer restarts when it ends. */
  private call<T>(txnId: string, fn: (txn: LiveTxn) => Promise<T>): Promise<T> {
    try {
      assertTxnId(txnId);
    } catch (err) {
      return Promise.reject(err);
    }
    const txn = this.live.get(txnId);
    if (!txn) {
      const done = this.finished.get(txnId);
      if (done?.state === 'ABORTED') return Promise.reject(done.timedOut ? new TxnTimeoutError(txnId, done.idleMs) : new TxnAbortedError(txnId, done.reason ?? 'aborted'));
      if (done) return Promise.reject(new InvalidArgumentError(`transaction ${txnId} has already committed`, { details: { txnId } }));
      return Promise.reject(new TxnNotFoundError(txnId));
    }
    const run = txn.queue.then(async () => {
      if (txn.state === 'ABORTED') throw txn.timedOut ? new TxnTimeoutError(txnId, txn.idleMs) : new TxnAbortedError(txnId, txn.reason ?? 'aborted');
      if (txn.state !== 'ACTIVE') throw new InvalidArgumentError(`transaction ${txnId} is ${txn.state}`, { details: { txnId } });
      if (this.closed) throw new TxnAbortedError(txnId, 'coordinator closed');
      // Idle means between calls: a slow call (a big upload) never times its own transaction out.
      clearTimeout(txn.timer);
      try {
        return await fn(txn);
      } finally {
        if (txn.state === 'ACTIVE') this.touch(txn);
      }
    });
    txn.queue = run.catch(() => {});
    return run;
  }

  private touch(txn: LiveTxn): void {
    clearTimeout(txn.timer);
    txn.timer = setTimeout(() => {
      if (txn.state !== 'ACTIVE') return;
      txn.timedOut = true;
      this.settle(txn, 'ABORTED', { reason: `idle for more than ${txn.idleMs} ms` });
    }, txn.idleMs);
    txn.timer.unref();
  }

  private forget(txn: LiveTxn): void {
    clearTimeout(txn.timer);
    this.live.delete(txn.info.id);
    this.finished.delete(txn.info.id);
  }

  private settle(txn: LiveTxn, state: 'DONE' | 'ABORTED', extra: { reason?: string; commit?: Hash; changed?: string[] }): void {
    clearTimeout(txn.timer);
    txn.state = state;
    Object.assign(txn, extra);
    // Staged rows are only needed until the commit: drop them so finished transactions cost little.
    for (const staged of txn.tables.values()) staged.ops = staged.ops.map((op) => ({ kind: op.kind }) as StagedOp);
    this.live.delete(txn.info.id);
    this.finished.set(txn.info.id, txn);
    const max = this.o.finishedCacheSize ?? 10_000;
    while (this.finished.size > max) this.finished.delete(this.finished.keys().next().value as string);
  }
}
