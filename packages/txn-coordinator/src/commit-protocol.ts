import { isArmillariaError, ErrorCode, sleep, type Hash } from '@armillaria/core';
import type { TableFormat } from '@armillaria/catalog';
import type { ChangeBus } from '@armillaria/changelog';
import type { CatalogPort, CommitInfo, TreeSnapshot } from './catalog-port.js';
import { ConflictChecker } from './conflicts.js';
import { TxnConflictError } from './errors.js';
import { buildTree, eventDrafts } from './events.js';
import { faultAt, type FaultPoint } from './faults.js';
import { applyOp, type StagedTable } from './staging.js';
import type { TxnCommitResult } from './txn-api.js';
import type { TxnLog } from './txn-log.js';
import { fillEvents, TXN_RECORD_VERSION, type TxnRecord } from './txn-record.js';

/**
 * Only PREPARED must survive a crash (with the ref it decides every outcome); COMMITTED and ABORTED
 * records lost in a crash are re-derived by recovery from PREPARED and the branch.
 */
const NOT_DURABLE = { durable: false } as const;

/** What the protocol needs of a live transaction. */
export interface CommittingTxn {
  id: string;
  repo: string;
  branch: string;
  base: CommitInfo;
  baseTree: TreeSnapshot;
  tables: Map<string, StagedTable>;
  readSet: ReadonlySet<string>;
}

export interface CommitProtocolOptions {
  catalog: CatalogPort;
  format: TableFormat;
  log: TxnLog;
  bus?: ChangeBus;
  fault?: FaultPoint;
  /** Compare-and-swap attempts before giving up with TXN_CONFLICT (default 200). */
  maxAttempts: number;
  /** A PREPARED record untouched this long belongs to a dead process (default 60 s). */
  staleAfterMs: number;
  /** How long a commit waits for another in-flight owner of its idempotency key (default 10 s). */
  idempotencyWaitMs: number;
}

export interface RecoveryReport {
  /** Records finished: events (re)published and marked DONE. */
  finished: string[];
  /** PREPARED records whose commit had reached the branch. */
  rolledForward: string[];
  aborted: string[];
  /** PREPARED records too recent to judge (their process may still be committing). */
  skipped: string[];
  errors: Array<{ txnId: string; message: string }>;
}

/**
 * The two-phase commit: PREPARE (durable record) -> validate/rebase -> one compare-and-swap of the
 * branch (COMMITTED) -> publish the events -> DONE; and the recovery that finishes or undoes records
 * left by a crash. Every step is idempotent, so recovery can redo any of them.
 */
export class CommitProtocol {
  private readonly checker: ConflictChecker;
  /** Transactions this process is committing: recovery leaves them alone. */
  readonly inflight = new Set<string>();
  /**
   * Commits of this process to one branch take turns: racing them would only make all but one lose
   * the compare-and-swap and redo their PREPARE. Other processes still race, and lose cleanly.
   */
  private readonly branchTurns = new Map<string, Promise<unknown>>();

  constructor(private readonly o: CommitProtocolOptions) {
    this.checker = new ConflictChecker(o.catalog, o.format, o.log);
  }

  async commit(txn: CommittingTxn, opts: { message: string; author: string; idempotencyKey?: string }): Promise<TxnCommitResult> {
    this.inflight.add(txn.id);
    const key = `${txn.repo}\u0000${txn.branch}`;
    const previous = this.branchTurns.get(key) ?? Promise.resolve();
    // The turn ends once the ref moved: recording COMMITTED, publishing and DONE run outside it.
    const mine = previous.then(() => this.run(txn, opts));
    const settled = mine.catch(() => {});
    this.branchTurns.set(key, settled);
    try {
      const outcome = await mine;
      if (!outcome.committed) return outcome.result;
      await this.o.log.put(outcome.committed, NOT_DURABLE);
      return { ...outcome.result, published: await this.finish(outcome.committed) };
    } finally {
      this.inflight.delete(txn.id);
      if (this.branchTurns.get(key) === settled) this.branchTurns.delete(key);
    }
  }

  /** Up to and including the compare-and-swap; `committed` is the COMMITTED record still to write and finish. */
  private async run(txn: CommittingTxn, opts: { message: string; author: string; idempotencyKey?: string }): Promise<{ result: TxnCommitResult; committed?: TxnRecord }> {
    const { catalog, log } = this.o;
    let base = txn.base;
    let baseTree = txn.baseTree;
    let rebased = false;
    let record: TxnRecord | undefined;
    const createdAt = Date.now();
    for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
      const head = await catalog.resolve(txn.repo, txn.branch);
      if (head.hash !== base.hash) {
        const headTree = await catalog.readTree(txn.repo, head.tree);
        const verdict = await this.checker.check({ repo: txn.repo, base, baseTree, head, headTree, tables: txn.tables, readSet: txn.readSet });
        if ('conflict' in verdict) {
          if (record) await log.put({ ...record, state: 'ABORTED', reason: verdict.conflict.reason, updatedAt: Date.now() }, NOT_DURABLE);
          throw new TxnConflictError(txn.id, verdict.conflict);
        }
        for (const table of verdict.rebase) await this.replay(txn, table, headTree);
        base = head;
        baseTree = headTree;
        rebased = true;
      }
      const tree = buildTree(base.hash, baseTree, txn.tables);
      const changed = Object.keys({ ...tree.tables, ...baseTree.tables }).filter(
        (t) => JSON.stringify(tree.tables[t]) !== JSON.stringify(baseTree.tables[t]),
      );
      if (changed.length === 0) {
        // Nothing to commit (read-only, or writes that cancel out): the snapshot stands.
        return { result: { txnId: txn.id, commit: base.hash, parent: base.parents[0] ?? null, tables: [], attempts: attempt - 1, rebased, deduplicated: false, published: true } };
      }
      faultAt(this.o.fault, 'after-upload');
      const events = await eventDrafts(this.o.format, { repo: txn.repo, branch: txn.branch, txnId: txn.id, base, baseTree, tree }, txn.tables);
      record = {
        v: TXN_RECORD_VERSION, id: txn.id, repo: txn.repo, branch: txn.branch, state: 'PREPARED', base: base.hash, baseGeneration: base.generation,
        tree, message: opts.message, author: opts.author, events, createdAt, updatedAt: Date.now(),
        ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
      };
      await log.put(record);
      if (attempt === 1 && opts.idempotencyKey !== undefined) {
        const first = await this.claimKey(record, opts.idempotencyKey);
        if (first) {
          await log.put({ ...record, state: 'ABORTED', reason: `idempotency key already committed by ${first.id}`, updatedAt: Date.now() }, NOT_DURABLE);
          const published = first.state === 'DONE';
          return { result: { txnId: first.id, commit: first.commit as Hash, parent: first.base, tables: first.events.map((e) => e.table), attempts: 0, rebased: false, deduplicated: true, published } };
        }
      }
      faultAt(this.o.fault, 'after-prepare');
      let commit: CommitInfo;
      try {
        commit = await catalog.commitTree(txn.repo, txn.branch, { baseCommit: base.hash, tree, message: opts.message, author: opts.author, txnId: txn.id });
      } catch (err) {
        if (isArmillariaError(err, ErrorCode.RefConflict)) {
          // Another commit won the race: re-validate against it on the next attempt.
          await sleep(Math.min(50, attempt) * Math.random());
          continue;
        }
        // Unknown outcome (e.g. the ref store stopped answering mid-call): if the commit is on the
        // branch, carry on; otherwise the record stays PREPARED and recovery settles it later.
        const landed = await this.findCommit(record).catch(() => undefined);
        if (!landed) throw err;
        commit = landed;
      }
      faultAt(this.o.fault, 'after-cas');
      const committed: TxnRecord = { ...record, state: 'COMMITTED', commit: commit.hash, commitTime: commit.time, updatedAt: Date.now() };
      return {
        result: { txnId: txn.id, commit: commit.hash, parent: base.hash, tables: events.map((e) => e.table), attempts: attempt, rebased, deduplicated: false, published: false },
        committed,
      };
    }
    if (record) await log.put({ ...record, state: 'ABORTED', reason: 'too many concurrent commits', updatedAt: Date.now() }, NOT_DURABLE);
    throw new TxnConflictError(txn.id, { table: [...txn.tables.keys()][0] ?? '', kind: 'table', reason: `branch kept moving: gave up after ${this.o.maxAttempts} attempts` });
  }

  /** Re-applies a table's staged ops onto its entry in the new head's tree. */
  private async replay(txn: CommittingTxn, table: string, headTree: TreeSnapshot): Promise<void> {
    const staged = txn.tables.get(table);
    if (!staged) return;
    const entry = headTree.tables[table];
    let manifest: Hash | null = entry?.manifest ?? null;
    for (const op of staged.ops) manifest = await applyOp(this.o.format, txn.repo, table, manifest, op);
    staged.base = entry;
    staged.manifest = manifest;
  }

  /**
   * Claims the idempotency key for `record`. Returns undefined when this transaction owns it, or the
   * record of the transaction that committed under it first (finishing it if it was left COMMITTED).
   */
  private async claimKey(record: TxnRecord, key: string): Promise<TxnRecord | undefined> {
    const { log } = this.o;
    const deadline = Date.now() + this.o.idempotencyWaitMs;
    let supersede: string | undefined;
    for (let i = 0; ; i++) {
      const owner = await log.claimKey(key, record.id, supersede);
      if (owner === record.id) return undefined;
      const other = await log.get(owner);
      if (!other || other.state === 'ABORTED') {
        supersede = owner;
        continue;
      }
      if (other.state === 'DONE') return other;
      if (other.state === 'COMMITTED') {
        await this.finish(other);
        return other;
      }
      if (!this.inflight.has(owner) && Date.now() - other.updatedAt >= this.o.staleAfterMs) {
        await this.resolve(other, true);
        continue;
      }
      if (Date.now() > deadline) {
        throw new TxnConflictError(record.id, { table: other.events[0]?.table ?? '', kind: 'table', reason: `idempotency key is held by transaction ${owner}, still committing` });
      }
      await sleep(Math.min(200, 5 * 2 ** i));
    }
  }

  /** Publishes a COMMITTED record's events and marks it DONE. False when the bus failed (recovery retries). */
  async finish(record: TxnRecord): Promise<boolean> {
    if (this.o.bus) {
      try {
        await this.o.bus.publish(fillEvents(record));
      } catch {
        return false;
      }
      faultAt(this.o.fault, 'after-publish');
    }
    // DONE only saves recovery a republish, except that it proves an idempotency key committed.
    await this.o.log.put({ ...record, state: 'DONE', updatedAt: Date.now() }, { durable: record.idempotencyKey !== undefined });
    return true;
  }

  /**
   * Settles one pending record: COMMITTED is finished; PREPARED is rolled forward when its commit is
   * on the branch (found by txn id among the commits after its base), else aborted when stale.
   * Returns what happened.
   */
  async resolve(record: TxnRecord, force = false): Promise<'finished' | 'rolledForward' | 'aborted' | 'skipped'> {
    if (record.state === 'COMMITTED') {
      return (await this.finish(record)) ? 'finished' : 'skipped';
    }
    if (record.state !== 'PREPARED') return 'skipped';
    const landed = await this.findCommit(record);
    if (landed) {
      const committed: TxnRecord = { ...record, state: 'COMMITTED', commit: landed.hash, commitTime: landed.time, updatedAt: Date.now() };
      await this.o.log.put(committed, NOT_DURABLE);
      await this.finish(committed);
      return 'rolledForward';
    }
    if (!force && Date.now() - record.updatedAt < this.o.staleAfterMs) return 'skipped';
    await this.o.log.put({ ...record, state: 'ABORTED', reason: 'recovery: prepared but never reached the branch', updatedAt: Date.now() }, NOT_DURABLE);
    return 'aborted';
  }

  /** The commit of `record` if it reached its branch: walks first parents from the head down to the base. */
  private async findCommit(record: TxnRecord): Promise<CommitInfo | undefined> {
    const { catalog } = this.o;
    let c: CommitInfo | undefined = await catalog.resolve(record.repo, record.branch);
    while (c && c.generation > record.baseGeneration) {
      if (c.txnId === record.id) return c;
      c = c.parents[0] ? await catalog.readCommit(record.repo, c.parents[0]) : undefined;
    }
    return undefined;
  }

  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { finished: [], rolledForward: [], aborted: [], skipped: [], errors: [] };
    for (const record of await this.o.log.pending()) {
      if (this.inflight.has(record.id)) continue;
      try {
        const outcome = await this.resolve(record);
        report[outcome].push(record.id);
      } catch (err) {
        report.errors.push({ txnId: record.id, message: (err as Error).message });
      }
    }
    return report;
  }
}
