import type { TableFormat } from '@armillaria/catalog';
import type { Hash } from '@armillaria/core';
import type { QueueItem } from './branch-queue.js';
import { sameEntry, type CommitInfo, type TreeSnapshot } from './catalog-port.js';
import type { CommittingTxn } from './commit-protocol.js';
import type { ConflictChecker } from './conflicts.js';
import { TxnConflictError } from './errors.js';
import { buildTree, eventDrafts } from './events.js';
import { applyOp } from './staging.js';
import type { TxnCommitResult } from './txn-api.js';
import { NOT_DURABLE, type TxnLog } from './txn-log.js';
import type { EventDraft, TxnRecord } from './txn-record.js';

export type CommitOpts = { message: string; author: string; idempotencyKey?: string };
export type Outcome = TxnCommitResult;

/** A transaction waiting for, or in, a group commit. */
export interface Member {
  txn: CommittingTxn;
  opts: CommitOpts;
  /** The head it was last validated against (its staged tables may sit on a tree after it: `StagedTable.base`). */
  base: CommitInfo;
  baseTree: TreeSnapshot;
  rebased: boolean;
  /** Its last PREPARED record. */
  record?: TxnRecord;
  /** Its idempotency key is claimed (or it has none). */
  claimed: boolean;
  createdAt: number;
}

/** A validated member: the tree it commits and its events, against the tree of the member before it. */
export interface ChainLink {
  item: QueueItem<Member, Outcome>;
  tree: TreeSnapshot;
  events: EventDraft[];
}

/** What validating a group needs. */
export interface GroupDeps {
  checker: ConflictChecker;
  format: TableFormat;
  log: TxnLog;
}

/**
 * Validates the members in order, member k against the head plus members 1..k-1 (as if those had
 * committed first): conflicting members are rejected (TXN_CONFLICT, alone), no-op members answered,
 * the rest rebased onto the tree before them. Returns the chain to land.
 */
export async function validateChain(deps: GroupDeps, items: Array<QueueItem<Member, Outcome>>, head: CommitInfo, headTree: TreeSnapshot, attempt: number): Promise<ChainLink[]> {
  const chain: ChainLink[] = [];
  let tip = headTree;
  const pendingOps = new Map<string, Set<string>>();
  for (const item of items) {
    const m = item.value;
    const { txn } = m;
    try {
      if (m.base.hash !== head.hash || chain.length > 0) {
        const verdict = await deps.checker.check({ repo: txn.repo, base: m.base, baseTree: m.baseTree, head, headTree: tip, tables: txn.tables, readSet: txn.readSet, pendingOps });
        if ('conflict' in verdict) {
          if (m.record) await deps.log.put({ ...m.record, state: 'ABORTED', reason: verdict.conflict.reason, updatedAt: Date.now() }, NOT_DURABLE);
          item.reject(new TxnConflictError(txn.id, verdict.conflict));
          continue;
        }
      }
      // Staged tables built on another entry than the tip's (concurrent commits, earlier members, or
      // members of a failed earlier attempt) are replayed onto the tip's.
      for (const [table, staged] of txn.tables) {
        if (staged.ops.length > 0 && !sameEntry(staged.base, tip.tables[table])) {
          await replay(deps.format, txn, table, tip);
          m.rebased = true;
        }
      }
      m.base = head;
      m.baseTree = headTree;
      const tree = buildTree(head.hash, tip, txn.tables);
      const changed = Object.keys({ ...tree.tables, ...tip.tables }).filter((t) => !sameEntry(tree.tables[t], tip.tables[t]));
      if (changed.length === 0) {
        // Nothing to commit (read-only, or writes that cancel out): the snapshot stands.
        item.resolve({ txnId: txn.id, commit: head.hash, parent: head.parents[0] ?? null, tables: [], attempts: attempt - 1, rebased: m.rebased || head.hash !== txn.base.hash, deduplicated: false, published: true });
        continue;
      }
      const events = await eventDrafts(deps.format, { repo: txn.repo, branch: txn.branch, txnId: txn.id, parent: head.hash, seq: head.generation + 1 + chain.length, baseTree: tip, tree }, txn.tables);
      chain.push({ item, tree, events });
      tip = tree;
      for (const e of events) pendingOps.set(e.table, new Set([...(pendingOps.get(e.table) ?? []), e.op]));
    } catch (err) {
      // This member's own failure (its replay, its diff): the others go on without it.
      item.reject(err);
    }
  }
  return chain;
}

/** Re-applies a table's staged ops onto its entry in the new head's tree. */
async function replay(format: TableFormat, txn: CommittingTxn, table: string, headTree: TreeSnapshot): Promise<void> {
  const staged = txn.tables.get(table);
  if (!staged) return;
  const entry = headTree.tables[table];
  let manifest: Hash | null = entry?.manifest ?? null;
  for (const op of staged.ops) manifest = await applyOp(format, txn.repo, table, manifest, op);
  staged.base = entry;
  staged.manifest = manifest;
}
