import { Table } from 'apache-arrow';
import type { ManifestReader } from './manifest-io.js';
import { compareValues, type KeyValue } from './keys.js';
import { columnArrays, rowOf, sameValue, type Columns } from './rows.js';
import type { ChunkDiff, ChunkInfo, Manifest, RowDiff } from './table-format.js';

/**
 * Chunks of `to` not in `from` (added, in `to`'s order) and of `from` not in `to` (removed), counted as
 * multisets: base chunks, then (unless `withDelta` is false) delta chunks, which never equal base
 * chunks (they have one more column). When both manifests are paged, pages with equal hashes are
 * skipped unread: their chunks are on both sides.
 */
export async function chunkDiff(reader: ManifestReader, from: Manifest | null, to: Manifest | null, withDelta = true): Promise<ChunkDiff> {
  let a: ChunkInfo[];
  let b: ChunkInfo[];
  if (from?.pages && to?.pages) {
    const inA = new Set(from.pages.map((p) => p.hash));
    const inB = new Set(to.pages.map((p) => p.hash));
    const [pa, pb] = await Promise.all([
      Promise.all(from.pages.filter((p) => !inB.has(p.hash)).map((p) => reader.page(p))),
      Promise.all(to.pages.filter((p) => !inA.has(p.hash)).map((p) => reader.page(p))),
    ]);
    a = pa.flat();
    b = pb.flat();
  } else {
    [a, b] = await Promise.all([from ? reader.chunkList(from) : [], to ? reader.chunkList(to) : []]);
  }
  const base = { added: minus(b, a), removed: minus(a, b) };
  if (!withDelta || (!from?.delta && !to?.delta)) return base;
  const [da, db] = await Promise.all([from ? reader.deltaList(from) : [], to ? reader.deltaList(to) : []]);
  return { added: [...base.added, ...minus(db, da)], removed: [...base.removed, ...minus(da, db)] };
}

function minus(xs: readonly ChunkInfo[], ys: readonly ChunkInfo[]): ChunkInfo[] {
  const count = new Map<string, number>();
  for (const y of ys) count.set(y.hash, (count.get(y.hash) ?? 0) + 1);
  return xs.filter((x) => {
    const n = count.get(x.hash) ?? 0;
    if (n === 0) return true;
    count.set(x.hash, n - 1);
    return false;
  });
}

/**
 * Row-level difference of the rows of the removed chunks against those of the added chunks (rows in
 * unchanged chunks are equal by construction). With key columns: matched by key (a key seen twice on
 * one side keeps its last row). Without: matched by position within the differing chunks, in table
 * order, with the row's index among them as its key; rows beyond the shorter side are added or
 * removed. Rows are plain objects as `plainRows` documents.
 */
export function rowDiff(keyColumns: string[], removed: Table | Columns | null, added: Table | Columns | null, sortedByKey = false): RowDiff {
  const none: Columns = { length: 0, names: [], values: [] };
  const columns = (t: Table | Columns | null): Columns => (t === null ? none : t instanceof Table ? columnArrays(t) : t);
  const before = columns(removed);
  const after = columns(added);
  const same = rowsEqual(before, after);
  const diff: RowDiff = { keyColumns, added: [], removed: [], changed: [] };
  if (keyColumns.length === 0) {
    const n = Math.min(before.length, after.length);
    for (let i = 0; i < n; i++) {
      if (!same(i, i)) diff.changed.push({ key: [i], before: rowOf(before, i), after: rowOf(after, i) });
    }
    for (let i = n; i < before.length; i++) diff.removed.push(rowOf(before, i));
    for (let i = n; i < after.length; i++) diff.added.push(rowOf(after, i));
    return diff;
  }
  if (sortedByKey) return mergeJoin(keyColumns, before, after, same, diff);
  const keyOf = (cols: Columns, i: number): unknown[] => keyColumns.map((k) => {
    const c = cols.names.indexOf(k);
    return c < 0 ? null : cols.values[c]![i] ?? null;
  });
  // Key columns hold one type each, so a single value is its own Map key; several are joined.
  const id = keyColumns.length === 1 ? (key: unknown[]): unknown => key[0] : (key: unknown[]): unknown => key.map(String).join('\u0000');
  const old = new Map<unknown, number>();
  for (let i = 0; i < before.length; i++) old.set(id(keyOf(before, i)), i);
  for (let j = 0; j < after.length; j++) {
    const key = keyOf(after, j);
    const k = id(key);
    const i = old.get(k);
    if (i === undefined) {
      diff.added.push(rowOf(after, j));
    } else {
      old.delete(k);
      if (!same(i, j)) diff.changed.push({ key, before: rowOf(before, i), after: rowOf(after, j) });
    }
  }
  for (const i of old.values()) diff.removed.push(rowOf(before, i));
  return diff;
}

/**
 * Both sides sorted by `keyColumns` (the tables' primary key: rows of chunks in table order), so one
 * merge pass pairs them, without a hash map over every key.
 */
function mergeJoin(keyColumns: string[], before: Columns, after: Columns, same: (i: number, j: number) => boolean, diff: RowDiff): RowDiff {
  const kb = keyColumns.map((k) => before.values[before.names.indexOf(k)]! as ArrayLike<KeyValue>);
  const ka = keyColumns.map((k) => after.values[after.names.indexOf(k)]! as ArrayLike<KeyValue>);
  const cmp = (i: number, j: number): number => {
    for (let c = 0; c < kb.length; c++) {
      const d = compareValues(kb[c]![i]!, ka[c]![j]!);
      if (d !== 0) return d;
    }
    return 0;
  };
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const c = i >= before.length ? 1 : j >= after.length ? -1 : cmp(i, j);
    if (c < 0) diff.removed.push(rowOf(before, i++));
    else if (c > 0) diff.added.push(rowOf(after, j++));
    else {
      if (!same(i, j)) diff.changed.push({ key: ka.map((col) => col[j]), before: rowOf(before, i), after: rowOf(after, j) });
      i++;
      j++;
    }
  }
  return diff;
}

/** Row equality across two column sets (a column missing on one side counts as null there). */
function rowsEqual(a: Columns, b: Columns): (i: number, j: number) => boolean {
  const names = [...new Set([...a.names, ...b.names])];
  const pairs = names.map((n) => [a.values[a.names.indexOf(n)], b.values[b.names.indexOf(n)]] as const);
  return (i, j) => pairs.every(([x, y]) => sameValue(x?.[i] ?? null, y?.[j] ?? null));
}
