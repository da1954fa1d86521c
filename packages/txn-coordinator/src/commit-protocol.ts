import { isArmillariaError, ErrorCode, sleep, type Hash } from '@armillaria/core';
import type { TableFormat } from '@armillaria/catalog';
import type { ChangeBus } from '@armillaria/changelog';
import type { CatalogPort, CommitInfo, TreeSnapshot } from './catalog-port.js';
import { BranchQueue, type QueueItem } from './branch-queue.js';
import { validateChain, type ChainLink, type CommitOpts, type Member, type Outcome } from './group-validation.js';
import { ConflictChecker } from './conflicts.js';
import { TxnConflictError } from './errors.js';
import { faultAt, type FaultPoint } from './faults.js';
import type { StagedTable } from './staging.js';
import type { TxnCommitResult } from './txn-api.js';
import { NOT_DURABLE, type TxnLog } from './txn-log.js';
import { fillEvents, TXN_RECORD_VERSION, type TxnRecord } from './txn-record.js';


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

/** Thrown by a group's PREPARE step to call the swap off when members left the group. */
class GroupChanged extends Error {}

/** Group size when none is given, and the most a group may hold (the catalog's chain limit). */
export const DEFAULT_MAX_GROUP = 64;
export const MAX_GROUP = 256;

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
  /** Most transactions one group commit lands with one compare-and-swap (default 64; 1 turns grouping off). */
  maxGroup?: number;
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
 *
 * Group commit: commits of this process to one branch wait in a `BranchQueue`; each turn takes all
 * waiters (up to `maxGroup`), validates them in order (each against the head plus the members before
 * it), prepares them, and lands them as a chain of commits with ONE compare-and-swap.
 */
export class CommitProtocol {
  private readonly checker: ConflictChecker;
  /** Transactions this process is committing: recovery leaves them alone. */
  readonly inflight = new Set<string>();
  private readonly queue: BranchQueue<Member, Outcome>;
  /** Per branch: the group whose records are being finished; the next group's wait behind it (events in commit order). */
  private readonly finishing = new Map<string, Promise<unknown>>();

  constructor(private readonly o: CommitProtocolOptions) {
    this.checker = new ConflictChecker(o.catalog, o.format, o.log);
    this.queue = new BranchQueue(Math.max(1, Math.min(MAX_GROUP, o.maxGroup ?? DEFAULT_MAX_GROUP)), (key, batch) => this.turn(key, batch));
  }

  async commit(txn: CommittingTxn, opts: CommitOpts): Promise<TxnCommitResult> {
    this.inflight.add(txn.id);
    try {
      const member: Member = { txn, opts, base: txn.base, baseTree: txn.baseTree, rebased: false, claimed: opts.idempotencyKey === undefined, createdAt: Date.now() };
      // A transaction that creates a table names its parent commit in the tree (the table's origin),
      // which inside a chain is not known before the chain is hashed: it takes a turn alone.
      const solo = [...txn.tables.values()].some((t) => t.ops.some((op) => op.kind === 'create'));
      // Two commits with one idempotency key never share a group: the second must see the first's outcome.
      return await this.queue.push(`${txn.repo}\u0000${txn.branch}`, member, { solo, ...(opts.idempotencyKey !== undefined ? { tag: opts.idempotencyKey } : {}) });
    } finally {
      this.inflight.delete(txn.id);
    }
  }

  /**
   * One turn of a branch: validate, prepare and land a group. Returns once the branch moved (or the
   * group failed); recording COMMITTED, publishing and DONE continue after, in commit order.
   */
  private async turn(key: string, batch: Array<QueueItem<Member, Outcome>>): Promise<void> {
    const { catalog, log } = this.o;
    const first = batch[0]?.value.txn as CommittingTxn;
    const { repo, branch } = first;
    let active = batch;
    for (let attempt = 1; active.length > 0; attempt++) {
      if (attempt > this.o.maxAttempts) {
        await Promise.all(active.map(async (item) => {
          const { record } = item.value;
          if (record) await log.put({ ...record, state: 'ABORTED', reason: 'too many concurrent commits', updatedAt: Date.now() }, NOT_DURABLE).catch(() => {});
          item.reject(new TxnConflictError(item.value.txn.id, { table: [...item.value.txn.tables.keys()][0] ?? '', kind: 'table', reason: `branch kept moving: gave up after ${this.o.maxAttempts} attempts` }));
        }));
        return;
      }
      const head = await catalog.resolve(repo, branch);
      const headTree = await catalog.readTree(repo, head.tree);
      const chain = await validateChain({ checker: this.checker, format: this.o.format, log }, active, head, headTree, attempt);
      active = chain.map((l) => l.item);
      if (chain.length === 0) return;
      faultAt(this.o.fault, 'after-upload');

      // PREPARE: every member's record durable (in parallel) before the branch can move. The catalog
      // runs it alongside writing the chain's chunks and index entries, and swaps only once it is done.
      const records = chain.map((l, i): TxnRecord => {
        const m = l.item.value;
        return {
          v: TXN_RECORD_VERSION, id: m.txn.id, repo, branch, state: 'PREPARED', base: head.hash, baseGeneration: head.generation,
          ...(i > 0 ? { chain: i } : {}), tree: l.tree, message: m.opts.message, author: m.opts.author, events: l.events,
          createdAt: m.createdAt, updatedAt: Date.now(), ...(m.opts.idempotencyKey !== undefined ? { idempotencyKey: m.opts.idempotencyKey } : {}),
        };
      });
      let prepared = false;
      let left = new Map<QueueItem<Member, Outcome>, () => void>();
      const prepare = async (): Promise<void> => {
        await Promise.all(records.map(async (r, i) => {
          await log.put(r);
          (chain[i] as ChainLink).item.value.record = r;
        }));
        left = await this.claimKeys(chain);
        // Some members were answered (duplicates of a committed key): no swap; the rest go again.
        if (left.size > 0) throw new GroupChanged();
        faultAt(this.o.fault, 'after-prepare');
        prepared = true;
      };

      let commits: CommitInfo[];
      try {
        commits = await catalog.commitChain(repo, branch, {
          baseCommit: head.hash,
          commits: chain.map((l) => ({
            tree: l.tree, message: l.item.value.opts.message, author: l.item.value.opts.author, txnId: l.item.value.txn.id,
            ops: Object.fromEntries(l.events.map((e) => [e.table, e.op])),
          })),
          beforeSwap: prepare,
        });
      } catch (err) {
        if (left.size > 0) {
          for (const answer of left.values()) answer();
          active = active.filter((item) => !left.has(item));
          continue;
        }
        // Without a complete PREPARE the catalog never swapped: the error stands for the whole group.
        if (!prepared) throw err;
        if (isArmillariaError(err, ErrorCode.RefConflict)) {
          // Another process won the race: re-validate the whole group against it on the next attempt.
          await sleep(Math.min(50, attempt) * Math.random());
          continue;
        }
        // Unknown outcome (e.g. the ref store stopped answering mid-call): the chain lands whole or not
        // at all, so if its commits are on the branch, carry on; otherwise the records stay PREPARED
        // and recovery settles them later.
        const landed = await Promise.all(records.map((r) => this.findCommit(r))).catch(() => []);
        if (landed.length !== records.length || landed.some((c) => c === undefined)) throw err;
        commits = landed as CommitInfo[];
      }
      faultAt(this.o.fault, 'after-cas');
      for (const [i, c] of commits.entries()) this.checker.remember(c.hash, (records[i] as TxnRecord).events.map((e) => [e.table, e.op] as const));
      const committed = records.map((r, i): TxnRecord => {
        const c = commits[i] as CommitInfo;
        return { ...r, state: 'COMMITTED', commit: c.hash, commitTime: c.time, parent: c.parents[0] as Hash, updatedAt: Date.now() };
      });
      const results = chain.map((l, i): TxnCommitResult => ({
        txnId: l.item.value.txn.id, commit: (commits[i] as CommitInfo).hash, parent: (commits[i] as CommitInfo).parents[0] ?? null,
        tables: (records[i] as TxnRecord).events.map((e) => e.table), attempts: attempt,
        // Rebased: its commit does not sit on its snapshot (other commits, or group members, came first).
        rebased: l.item.value.rebased || (commits[i] as CommitInfo).parents[0] !== l.item.value.txn.base.hash, deduplicated: false, published: false,
      }));
      // The turn ends here; the next group is validated while this one's records are finished.
      const previous = this.finishing.get(key) ?? Promise.resolve();
      const done = previous.then(() => this.finishGroup(chain.map((l) => l.item), committed, results));
      this.finishing.set(key, done);
      void done.finally(() => {
        if (this.finishing.get(key) === done) this.finishing.delete(key);
      });
      return;
    }
  }

  /**
   * Claims the idempotency keys of members that have not claimed theirs yet (after their record exists,
   * so an owner always has one). A member whose key already committed is answered with that first
   * commit and leaves the group. Returns the members that left, each with how to answer it (once the
   * catalog call is over: nothing of the group may still be writing when a caller gets its answer);
   * the rest must be validated again.
   */
  private async claimKeys(chain: ChainLink[]): Promise<Map<QueueItem<Member, Outcome>, () => void>> {
    const left = new Map<QueueItem<Member, Outcome>, () => void>();
    await Promise.all(chain.map(async ({ item }) => {
      const m = item.value;
      if (m.claimed || m.opts.idempotencyKey === undefined || !m.record) return;
      try {
        const first = await this.claimKey(m.record, m.opts.idempotencyKey);
        m.claimed = true;
        if (!first) return;
        await this.o.log.put({ ...m.record, state: 'ABORTED', reason: `idempotency key already committed by ${first.id}`, updatedAt: Date.now() }, NOT_DURABLE);
        const result: TxnCommitResult = { txnId: first.id, commit: first.commit as Hash, parent: first.parent ?? first.base, tables: first.events.map((e) => e.table), attempts: 0, rebased: false, deduplicated: true, published: first.state === 'DONE' };
        left.set(item, () => item.resolve(result));
      } catch (err) {
        left.set(item, () => item.reject(err));
      }
    }));
    return left;
  }

  /**
   * Publishes the members' events in commit order, then marks them DONE (in parallel). COMMITTED is
   * written only for a member whose publish failed (recovery republishes it): on the happy path it
   * would say nothing that PREPARED and the branch do not (recovery rolls a landed PREPARED forward).
   */
  private async finishGroup(items: Array<QueueItem<Member, Outcome>>, committed: TxnRecord[], results: TxnCommitResult[]): Promise<void> {
    const published: boolean[] = [];
    for (const record of committed) published.push(await this.publish(record, true).catch(() => false));
    await Promise.all(items.map(async (item, i) => {
      try {
        if (published[i]) await this.markDone(committed[i] as TxnRecord);
        item.resolve({ ...(results[i] as TxnCommitResult), published: published[i] as boolean });
      } catch (err) {
        item.reject(err);
      }
    }));
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
    if (!(await this.publish(record))) return false;
    await this.markDone(record);
    return true;
  }

  /**
   * Publishes a COMMITTED record's events (the bus dedups by txn id and table). False when the bus
   * failed; `recordCommitted` then stores the COMMITTED record, so recovery finds it pending.
   */
  private async publish(record: TxnRecord, recordCommitted = false): Promise<boolean> {
    if (!this.o.bus) return true;
    try {
      await this.o.bus.publish(fillEvents(record));
    } catch {
      if (recordCommitted) await this.o.log.put(record, NOT_DURABLE);
      return false;
    }
    faultAt(this.o.fault, 'after-publish');
    return true;
  }

  /** DONE only saves recovery a republish, except that it proves an idempotency key committed. */
  private markDone(record: TxnRecord): Promise<void> {
    return this.o.log.put({ ...record, state: 'DONE', updatedAt: Date.now() }, { durable: record.idempotencyKey !== undefined });
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
      const committed: TxnRecord = { ...record, state: 'COMMITTED', commit: landed.hash, commitTime: landed.time, parent: landed.parents[0] as Hash, updatedAt: Date.now() };
      await this.o.log.put(committed, NOT_DURABLE);
      await this.finish(committed);
      return 'rolledForward';
    }
    if (!force && Date.now() - record.updatedAt < this.o.staleAfterMs) return 'skipped';
    await this.o.log.put({ ...record, state: 'ABORTED', reason: 'recovery: prepared but never reached the branch', updatedAt: Date.now() }, NOT_DURABLE);
    return 'aborted';
  }

  /**
   * The commit of `record` if it reached its branch: walks first parents from the head down to the base
   * (a chained member's commit sits `chain` commits above it; chains land whole or not at all).
   */
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
