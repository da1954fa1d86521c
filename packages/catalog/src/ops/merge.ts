import { InvalidArgumentError, type Hash } from '@armillaria/core';
import { MergeConflictError } from '../errors.js';
import { jsonSafe, schemaFromManifest, toArrowTable } from '../rows.js';
import type { RowDiff } from '../table-format/table-format.js';
import { DEFAULT_AUTHOR, type CatalogContext } from '../context.js';
import type { TreeEntry, TreeRecord } from '../model/commit.js';
import type { MergeConflict, MergeOptions, MergeResult, MergeStrategy, RepoInfo } from '../catalog-api.js';
import { mergeBase } from './merge-base.js';
import { refNames } from '../names.js';
import { applyChanges, changesByKey, mergeCells, sameOutcome, sameShape, valueId, type RowChange } from './row-changes.js';

const STRATEGIES: readonly MergeStrategy[] = ['fail', 'ours', 'theirs'];

/** A table's merge, planned before anything is written so `fail` can leave storage untouched. */
type Plan =
  | { kind: 'take'; entry: TreeEntry | undefined }
  | { kind: 'rows'; ours: TreeEntry; theirs: TreeEntry; apply: RowChange[] }
  | { kind: 'append'; ours: TreeEntry; theirs: TreeEntry; rows: Array<Record<string, unknown>> };

/**
 * Three-way merge of `opts.source` into branch `opts.into` at their merge base: fast-forward when the
 * branch is an ancestor, else per table: take the side that changed it, or merge rows by key when both
 * did, and a row both sides updated cell by cell (`mergeCells`). Conflicts carry key, base/ours/theirs
 * values and, for an update on both sides, the columns both changed; with `fail` nothing is written.
 */
export async function mergeRefs(ctx: CatalogContext, repo: RepoInfo, opts: MergeOptions): Promise<MergeResult> {
  const strategy = opts.strategy ?? 'fail';
  if (!STRATEGIES.includes(strategy)) throw new InvalidArgumentError(`unknown merge strategy ${JSON.stringify(strategy)}`, { details: { strategy: String(strategy) } });
  if (typeof opts.source !== 'string') throw new InvalidArgumentError('merge needs a source ref');
  const into = opts.into ?? repo.defaultBranch;
  const ours = await ctx.branchHead(repo, into);
  const theirs = await ctx.resolver.resolve(repo, opts.source);
  const base = await mergeBase(ctx.store, ours, theirs);
  const author = opts.author ?? DEFAULT_AUTHOR;
  const message = opts.message ?? `merge ${opts.source} into ${into}`;

  if (base === theirs.hash) return { kind: 'up-to-date', commit: ours, base, resolved: [] };
  if (base === ours.hash) {
    await ctx.refs.compareAndSwap(refNames.branch(repo.name, into), ours.hash, theirs.hash, { message: `fast-forward: ${message}`, author });
    return { kind: 'fast-forward', commit: theirs, base, resolved: [] };
  }

  const [bt, ot, tt] = await Promise.all([
    base ? ctx.store.readTree((await ctx.store.readCommit(base)).tree) : Promise.resolve<TreeRecord>({ tables: {} }),
    ctx.store.readTree(ours.tree),
    ctx.store.readTree(theirs.tree),
  ]);
  const conflicts: MergeConflict[] = [];
  const plans = new Map<string, Plan>();
  const names = [...new Set([...Object.keys(bt.tables), ...Object.keys(ot.tables), ...Object.keys(tt.tables)])].sort();
  for (const table of names) {
    plans.set(table, await planTable(ctx, table, bt.tables[table], ot.tables[table], tt.tables[table], strategy, conflicts));
  }
  if (conflicts.length > 0 && strategy === 'fail') {
    throw new MergeConflictError(`merging ${opts.source} into ${into}: ${conflicts.length} conflict(s)`, conflicts as unknown as Array<Record<string, unknown>>);
  }

  const tables: TreeRecord['tables'] = {};
  for (const [table, plan] of plans) {
    if (plan.kind === 'take') {
      if (plan.entry) tables[table] = plan.entry;
      continue;
    }
    if (plan.kind === 'append') {
      const m = await ctx.format.readManifest(plan.ours.manifest);
      const appended = await ctx.format.append(plan.ours.manifest, toArrowTable(plan.rows, schemaFromManifest(m)));
      tables[table] = { manifest: appended.manifest, version: Math.max(plan.ours.version, plan.theirs.version) + 1, origin: plan.ours.origin };
      continue;
    }
    if (plan.apply.length === 0) {
      tables[table] = plan.ours;
      continue;
    }
    const manifest = await applyChanges(ctx.format, plan.ours.manifest, await ctx.format.readManifest(plan.ours.manifest), plan.apply);
    tables[table] = { manifest, version: Math.max(plan.ours.version, plan.theirs.version) + 1, origin: plan.ours.origin };
  }
  const commit = await ctx.commitTables(repo, into, ours.hash, tables, { message, author, mergeParents: [theirs.hash] });
  return { kind: 'merge', commit, base, resolved: conflicts };
}

async function planTable(
  ctx: CatalogContext, table: string, b: TreeEntry | undefined, o: TreeEntry | undefined, t: TreeEntry | undefined,
  strategy: MergeStrategy, conflicts: MergeConflict[],
): Promise<Plan> {
  const changed = (x: TreeEntry | undefined): boolean => x?.manifest !== b?.manifest;
  if (!changed(t)) return { kind: 'take', entry: o };
  if (!changed(o)) return { kind: 'take', entry: t };
  if (o && t && o.manifest === t.manifest) return { kind: 'take', entry: o };

  const tableConflict = (reason: string): Plan => {
    conflicts.push({ table, kind: 'table', reason });
    return { kind: 'take', entry: strategy === 'theirs' ? t : o };
  };
  if (!b) return tableConflict('created on both sides with different contents');
  if (!o || !t) return tableConflict(!o ? 'dropped on our side, changed on theirs' : 'changed on our side, dropped on theirs');
  const [bm, om, tm] = await Promise.all([b.manifest, o.manifest, t.manifest].map((h) => ctx.format.readManifest(h as Hash)));
  if (!bm || !om || !tm) throw new Error('unreachable');
  if (!sameShape(bm, om) || !sameShape(bm, tm)) return tableConflict('schema or primary key changed on one side and data on the other');
  if (!bm.primaryKey?.length) {
    // Without a key only appends commute: both sides kept every base row in place and added after them.
    const [ourDiff, theirDiff] = await Promise.all([ctx.format.diffRows(b.manifest, o.manifest), ctx.format.diffRows(b.manifest, t.manifest)]);
    const onlyAdded = (d: RowDiff): boolean => d.removed.length === 0 && d.changed.length === 0;
    if (!onlyAdded(ourDiff) || !onlyAdded(theirDiff)) return tableConflict('both sides changed a table without a primary key (only appends merge)');
    return { kind: 'append', ours: o, theirs: t, rows: theirDiff.added };
  }

  const [ourDiff, theirDiff] = await Promise.all([ctx.format.diffRows(b.manifest, o.manifest), ctx.format.diffRows(b.manifest, t.manifest)]);
  const ourChanges = changesByKey(ourDiff);
  const apply: RowChange[] = [];
  for (const [id, theirChange] of changesByKey(theirDiff)) {
    const ourChange = ourChanges.get(id);
    if (!ourChange) {
      apply.push(theirChange);
      continue;
    }
    if (sameOutcome(ourChange, theirChange)) continue;
    // Both updated the row: columns changed on one side only merge (cell by cell); a strategy resolves
    // the columns both changed, and the other side's other columns still merge.
    const bothUpdated = theirChange.before && ourChange.after && theirChange.after;
    const cells = bothUpdated ? mergeCells(theirChange.before!, ourChange.after!, theirChange.after!, strategy === 'theirs' ? 'theirs' : 'ours') : undefined;
    if (cells?.columns.length === 0) {
      apply.push({ key: theirChange.key, before: ourChange.after, after: cells.row });
      continue;
    }
    conflicts.push(jsonSafe({
      table, kind: 'row', reason: cells ? `both sides changed ${cells.columns.join(', ')} differently` : 'same key changed differently on both sides',
      key: theirChange.key, base: theirChange.before, ours: ourChange.after, theirs: theirChange.after, ...(cells ? { columns: cells.columns } : {}),
    }) as MergeConflict);
    if (cells && strategy !== 'fail') {
      if (valueId(cells.row) !== valueId(ourChange.after)) apply.push({ key: theirChange.key, before: ourChange.after, after: cells.row });
    } else if (strategy === 'theirs') {
      apply.push(theirChange);
    }
  }
  return { kind: 'rows', ours: o, theirs: t, apply };
}

