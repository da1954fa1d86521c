import type { Hash } from '@armillaria/core';
import type { TableFormat } from '@armillaria/catalog';
import { sameEntry, type CatalogPort, type CommitInfo, type TreeSnapshot } from './catalog-port.js';
import type { ConflictDetails } from './errors.js';
import { jsonSafe, keyString } from './rows.js';
import { WHOLE_TABLE_OPS, type StagedTable } from './staging.js';
import type { TxnLog } from './txn-log.js';

/** Commits whose ops `ConflictChecker` keeps in memory. */
const OPS_CACHE_SIZE = 10_000;

/** ChangeEvent ops that replace or reshape a whole table. */
const WHOLE_TABLE_EVENT_OPS = new Set(['created', 'dropped', 'written', 'altered']);

export interface ValidateInput {
  repo: string;
  base: CommitInfo;
  baseTree: TreeSnapshot;
  head: CommitInfo;
  headTree: TreeSnapshot;
  tables: ReadonlyMap<string, StagedTable>;
  /** Tables read by a serializable transaction (empty for snapshot isolation). */
  readSet: ReadonlySet<string>;
  /**
   * Group commit: event ops, per table, of the members queued before this one in the chain. They are
   * not commits yet but count as committed before it; `headTree` then already includes their changes.
   */
  pendingOps?: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Checks a transaction's staged changes against everything committed between `base` and `head`
 * (the rules table in the README), and against `pendingOps` / `headTree` for the members before it in a
 * group commit. Returns the first conflict, or the tables that changed
 * concurrently without conflicting, which the caller replays onto `head`.
 */
export class ConflictChecker {
  private readonly opsCache = new Map<Hash, ReadonlyArray<readonly [string, string]>>();

  constructor(private readonly catalog: CatalogPort, private readonly format: TableFormat, private readonly log: TxnLog) {}

  async check(input: ValidateInput): Promise<{ conflict: ConflictDetails } | { rebase: string[] }> {
    const rebase: string[] = [];
    let concurrentOps: Map<string, Set<string>> | undefined;
    const opsOf = async (table: string): Promise<{ whole: boolean; unknown: boolean }> => {
      if (!concurrentOps) {
        concurrentOps = await this.concurrentOps(input.repo, input.base, input.head);
        for (const [t, ops] of input.pendingOps ?? []) concurrentOps.set(t, new Set([...(concurrentOps.get(t) ?? []), ...ops]));
      }
      const ops = concurrentOps.get(table);
      return { whole: [...(ops ?? [])].some((o) => WHOLE_TABLE_EVENT_OPS.has(o)), unknown: ops?.has('?') ?? false };
    };
    const head = input.head.hash;

    for (const table of input.readSet) {
      if (!sameEntry(input.baseTree.tables[table], input.headTree.tables[table])) {
        return { conflict: { table, kind: 'table', reason: 'a serializable transaction read this table and a concurrent commit changed it', head } };
      }
    }
    for (const [table, staged] of input.tables) {
      if (staged.ops.length === 0) continue;
      const before = input.baseTree.tables[table];
      const after = input.headTree.tables[table];
      if (sameEntry(before, after)) continue;
      if (!before || !after) {
        return { conflict: { table, kind: 'table', reason: `a concurrent commit ${before ? 'dropped' : 'created'} the table`, head } };
      }
      const mine = staged.ops.find((op) => WHOLE_TABLE_OPS.has(op.kind));
      if (mine) return { conflict: { table, kind: 'table', reason: `${mine.kind} conflicts with any concurrent change to the table`, head } };
      const [m0, m1] = await Promise.all([this.format.readManifest(before.manifest), this.format.readManifest(after.manifest)]);
      if (JSON.stringify(m0.schema) !== JSON.stringify(m1.schema) || JSON.stringify(m0.primaryKey ?? []) !== JSON.stringify(m1.primaryKey ?? [])) {
        return { conflict: { table, kind: 'table', reason: 'a concurrent commit changed the schema', head } };
      }
      const theirs = await opsOf(table);
      if (theirs.whole) return { conflict: { table, kind: 'table', reason: 'a concurrent commit overwrote, dropped or recreated the table', head } };
      const pk = m1.primaryKey;
      if (!pk?.length) {
        // Unkeyed: only blind appends get here (upsert/delete need a key). They commute with appends,
        // but not with a concurrent rewrite by a writer that left no record (chunks removed) unless the
        // rows stayed what they were, in order (a compaction merging small chunks, maybe plus appends).
        if (theirs.unknown && (await this.format.diffChunks(before.manifest, after.manifest)).removed.length > 0 && !(await this.onlyAppended(before.manifest, after.manifest))) {
          return { conflict: { table, kind: 'table', reason: 'a concurrent commit rewrote rows of the table', head } };
        }
        rebase.push(table);
        continue;
      }
      const overlap = await this.overlappingKeys(before.manifest, after.manifest, pk, staged);
      if (overlap.length > 0) {
        return { conflict: { table, kind: 'keys', reason: 'a concurrent commit changed the same primary keys', keys: overlap.slice(0, 100).map((k) => jsonSafe(k) as unknown[]), head } };
      }
      rebase.push(table);
    }
    return { rebase };
  }

  /** Whether `to` holds `from`'s rows in the same order, plus rows after them (diff by position). */
  private async onlyAppended(from: Hash, to: Hash): Promise<boolean> {
    const d = await this.format.diffRows(from, to);
    return d.removed.length === 0 && d.changed.length === 0;
  }

  private async overlappingKeys(from: Hash, to: Hash, pk: readonly string[], staged: StagedTable): Promise<unknown[][]> {
    if (staged.keys.size === 0) return [];
    const diff = await this.format.diffRows(from, to, { keyColumns: pk });
    const changed = [
      ...diff.added.map((r) => pk.map((c) => r[c])),
      ...diff.removed.map((r) => pk.map((c) => r[c])),
      ...diff.changed.map((c) => c.key),
    ];
    // A key only partial upserts wrote, which theirs updated in other columns: replaying ours keeps theirs.
    const updatedElsewhere = new Set<string>();
    for (const c of diff.changed) {
      const mine = staged.columns?.get(keyString(c.key));
      if (mine && !Object.keys(c.after).some((col) => mine.has(col) && keyString([c.before[col]]) !== keyString([c.after[col]]))) updatedElsewhere.add(keyString(c.key));
    }
    const out: unknown[][] = [];
    const seen = new Set<string>();
    for (const key of changed) {
      const k = keyString(key);
      if (staged.keys.has(k) && !seen.has(k) && !updatedElsewhere.has(k)) {
        seen.add(k);
        out.push(staged.keys.get(k) as unknown[]);
      }
    }
    return out;
  }

  /**
   * What each commit in (base, head] did per table, from the coordinator's records (event ops).
   * Commits made outside the coordinator have no record: their tables get `?`.
   */
  private async concurrentOps(repo: string, base: CommitInfo, head: CommitInfo): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    let c: CommitInfo | undefined = head;
    while (c && c.generation > base.generation) {
      for (const [table, op] of await this.opsOfCommit(repo, c)) {
        let s = out.get(table);
        if (!s) out.set(table, (s = new Set()));
        s.add(op);
      }
      c = c.parents[0] ? await this.catalog.readCommit(repo, c.parents[0]) : undefined;
    }
    return out;
  }

  /**
   * What one commit did per table (`[table, op]` pairs), kept per commit hash: a commit never changes,
   * and each rebase of a busy branch would otherwise read the same records again.
   */
  private async opsOfCommit(repo: string, c: CommitInfo): Promise<ReadonlyArray<readonly [string, string]>> {
    const cached = this.opsCache.get(c.hash);
    if (cached) return cached;
    const ops: Array<readonly [string, string]> = [];
    const record = c.txnId && /^[A-Za-z0-9_-]{1,128}$/.test(c.txnId) ? await this.log.get(c.txnId) : undefined;
    // A record whose base is this commit's parent, or whose place in a group-commit chain is this
    // commit's generation, built this commit (even if it died before COMMITTED).
    const built = record && (record.commit === c.hash || (record.chain === undefined
      ? record.base === c.parents[0]
      : c.generation === record.baseGeneration + 1 + record.chain));
    if (record && built) {
      for (const e of record.events) ops.push([e.table, e.op]);
    } else {
      const [tree, parentTree] = await Promise.all([
        this.catalog.readTree(repo, c.tree),
        c.parents[0] ? this.catalog.readCommit(repo, c.parents[0]).then((p) => this.catalog.readTree(repo, p.tree)) : Promise.resolve<TreeSnapshot>({ tables: {} }),
      ]);
      for (const t of new Set([...Object.keys(tree.tables), ...Object.keys(parentTree.tables)])) {
        if (!sameEntry(tree.tables[t], parentTree.tables[t])) ops.push([t, '?']);
      }
    }
    this.remember(c.hash, ops);
    return ops;
  }

  /** Notes what a commit did (the coordinator calls it for the commits it lands, from their events). */
  remember(commit: Hash, ops: ReadonlyArray<readonly [string, string]>): void {
    this.opsCache.set(commit, ops);
    // Oldest first out: rebases only look at the newest commits of a branch.
    if (this.opsCache.size > OPS_CACHE_SIZE) this.opsCache.delete(this.opsCache.keys().next().value as Hash);
  }
}
