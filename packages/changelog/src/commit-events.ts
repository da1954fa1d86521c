import { InvalidArgumentError, type Hash } from '@armillaria/core';
import type { CatalogApi, Commit, TableDiff } from '@armillaria/catalog';
import type { ChangeEvent, RowChange } from './change-bus.js';

export interface CommitEventsOptions {
  /** Attach row-level records (decodes only the chunks that differ). */
  rows?: boolean;
  /** Only these tables (others are not diffed at row level, nor returned). */
  tables?: readonly string[];
}

/**
 * The change events of one commit: one per table whose tree entry differs from the commit's first
 * parent, sorted by table name (the order every reader delivers a commit's events in). Chunk lists
 * come from the catalog's chunk diff, so the cost follows the change; `rowsAdded`/`rowsRemoved` count
 * the rows stored in those chunks (a physical count: see ChangeEvent.rowsAdded). A repo's root
 * commit has an empty tree and no events.
 */
export async function commitEvents(
  catalog: CatalogApi, repo: string, branch: string, commit: Hash | Commit, opts: CommitEventsOptions = {},
): Promise<ChangeEvent[]> {
  if (typeof branch !== 'string' || !branch) throw new InvalidArgumentError('branch is required');
  const c = typeof commit === 'string' ? await catalog.readCommit(repo, commit) : commit;
  const parent = c.parents[0] ?? null;
  if (parent === null) return [];
  const wanted = opts.tables ? new Set(opts.tables) : undefined;
  let diffs = (await catalog.diff(repo, parent, c.hash, { rows: Boolean(opts.rows) && !wanted })).tables;
  const commitTables = diffs.map((d) => d.table).sort();
  if (wanted) {
    diffs = diffs.filter((d) => wanted.has(d.table));
    // Row diffs only for the tables asked for: one diff per table instead of all of them.
    if (opts.rows) diffs = await Promise.all(diffs.map(async (d) => (await catalog.diff(repo, parent, c.hash, { table: d.table, rows: true })).tables[0] ?? d));
  }
  return diffs
    .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))
    .map((d) => ({ ...toEvent(repo, branch, c, parent, d, Boolean(opts.rows)), commitTables }));
}

function toEvent(repo: string, branch: string, c: Commit, parent: Hash, d: TableDiff, withRows: boolean): ChangeEvent {
  const sum = (chunks: ReadonlyArray<{ rows: number }>): number => chunks.reduce((n, ch) => n + ch.rows, 0);
  const event: ChangeEvent = {
    v: 1,
    repo,
    branch,
    table: d.table,
    commit: c.hash,
    parent,
    txnId: c.txnId ?? c.hash,
    seq: c.generation,
    time: c.time,
    op: opOf(c, d),
    versionBefore: d.from?.version ?? null,
    versionAfter: d.to?.version ?? null,
    chunksAdded: d.chunks.added.map((ch) => ch.hash),
    chunksRemoved: d.chunks.removed.map((ch) => ch.hash),
    rowsAdded: sum(d.chunks.added),
    rowsRemoved: sum(d.chunks.removed),
  };
  if (withRows) event.rows = d.rows ? rowChanges(d.rows) : [];
  return event;
}

/**
 * The kind of change. Transaction commits store their live events' ops (`Commit.ops`); for other
 * commits it is read from what changed: table
 * created/dropped from the tree entries, merges from the parents, and otherwise the catalog's default
 * messages (`append t`, `upsert t`, …); a custom message falls back to the chunk diff (only chunks
 * added: `appended`, else `written`).
 */
function opOf(c: Commit, d: TableDiff): string {
  // Transaction commits store the op their live events carried.
  const stored = c.ops?.[d.table];
  if (stored !== undefined) return stored;
  if (!d.from) return 'created';
  if (!d.to) return 'dropped';
  if (c.parents.length > 1) return 'merged';
  const m = /^(write|append|upsert|delete|add column .+ to|revert|compact|restore)\b/.exec(c.message);
  const verb = m?.[1];
  if (verb === 'write') return 'written';
  if (verb === 'append') return 'appended';
  if (verb === 'upsert') return 'upserted';
  if (verb === 'delete') return 'deleted';
  if (verb === 'revert') return 'reverted';
  if (verb === 'compact') return 'compacted';
  if (verb === 'restore') return 'restored';
  if (verb?.startsWith('add column')) return 'altered';
  return d.chunks.removed.length === 0 ? 'appended' : 'written';
}

/**
 * Row-level records from the catalog's row diff: deletes, then updates, then inserts. Keyed tables key
 * records by their primary key; unkeyed ones (no key columns) by position in the diff's lists.
 */
export function rowChanges(diff: { keyColumns: string[]; added: Array<Record<string, unknown>>; removed: Array<Record<string, unknown>>; changed: Array<{ key: unknown[]; before: Record<string, unknown>; after: Record<string, unknown> }> }): RowChange[] {
  const keyed = diff.keyColumns.length > 0;
  const keyOf = (row: Record<string, unknown>, i: number): unknown[] => (keyed ? diff.keyColumns.map((k) => row[k]) : [i]);
  const out: RowChange[] = [];
  diff.removed.forEach((row, i) => out.push({ kind: 'delete', key: keyOf(row, i), before: row }));
  for (const ch of diff.changed) out.push({ kind: 'update', key: ch.key, before: ch.before, after: ch.after });
  diff.added.forEach((row, i) => out.push({ kind: 'insert', key: keyOf(row, i), after: row }));
  return out;
}
