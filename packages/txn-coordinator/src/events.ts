import type { Hash } from '@armillaria/core';
import type { TableFormat } from '@armillaria/catalog';
import { sameEntry, type TreeSnapshot } from './catalog-port.js';
import type { OpKind, StagedTable } from './staging.js';
import type { EventDraft } from './txn-record.js';

const EVENT_OP: Record<OpKind, string> = {
  create: 'created', drop: 'dropped', write: 'written', append: 'appended', upsert: 'upserted', delete: 'deleted', addColumn: 'altered',
};

/**
 * One op name for a table a transaction touched, possibly several times: its end state first (gone:
 * dropped; new or re-created: created), then the most sweeping op.
 */
export function eventOp(kinds: readonly OpKind[], existedBefore: boolean, existsAfter: boolean): string {
  if (!existsAfter) return EVENT_OP.drop;
  if (!existedBefore || kinds.includes('create')) return EVENT_OP.create;
  for (const k of ['write', 'addColumn'] as const) if (kinds.includes(k)) return EVENT_OP[k];
  const distinct = new Set(kinds);
  if (distinct.size === 1) return EVENT_OP[kinds[0] as OpKind];
  // Mixed appends, upserts and deletes read as an upsert: rows added and removed by key.
  return EVENT_OP.upsert;
}

/**
 * The change events of a prepared transaction, one per table whose entry differs between `base`'s tree
 * and `tree`: versions, chunks added/removed (chunk diff of the manifests) and the rows those chunks
 * hold. The commit hash and time (and, inside a group-commit chain, the parent) are filled in after the
 * compare-and-swap. `baseTree` is the tree of the commit's parent, `seq` the commit's generation.
 */
export async function eventDrafts(
  format: TableFormat,
  ctx: { repo: string; branch: string; txnId: string; parent: Hash; seq: number; baseTree: TreeSnapshot; tree: TreeSnapshot },
  tables: ReadonlyMap<string, StagedTable>,
): Promise<EventDraft[]> {
  const out: EventDraft[] = [];
  for (const [table, staged] of [...tables].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const before = ctx.baseTree.tables[table];
    const after = ctx.tree.tables[table];
    if (staged.ops.length === 0 || sameEntry(before, after)) continue;
    const diff = await format.diffChunks(before?.manifest ?? null, after?.manifest ?? null);
    out.push({
      v: 1,
      repo: ctx.repo,
      branch: ctx.branch,
      table,
      parent: ctx.parent,
      txnId: ctx.txnId,
      seq: ctx.seq,
      op: eventOp(staged.ops.map((o) => o.kind), before !== undefined, after !== undefined),
      versionBefore: before?.version ?? null,
      versionAfter: after?.version ?? null,
      chunksAdded: diff.added.map((c) => c.hash),
      chunksRemoved: diff.removed.map((c) => c.hash),
      rowsAdded: diff.added.reduce((n, c) => n + c.rows, 0),
      rowsRemoved: diff.removed.reduce((n, c) => n + c.rows, 0),
    });
  }
  return out;
}

/** The tree a transaction commits: `head`'s tree with the transaction's tables replaced. */
export function buildTree(head: Hash, headTree: TreeSnapshot, tables: ReadonlyMap<string, StagedTable>): TreeSnapshot {
  const out: TreeSnapshot['tables'] = { ...headTree.tables };
  for (const [table, staged] of tables) {
    if (staged.ops.length === 0) continue;
    const current = headTree.tables[table];
    // The last create starts a new incarnation (version 1, origin = the commit's parent), as in the catalog.
    const created = staged.ops.some((op) => op.kind === 'create');
    if (staged.manifest === null) delete out[table];
    else if (created) out[table] = { manifest: staged.manifest, version: 1, origin: head };
    else if (!current || current.manifest !== staged.manifest) out[table] = { ...current, manifest: staged.manifest, version: (current?.version ?? 0) + 1 };
  }
  return { tables: out };
}
