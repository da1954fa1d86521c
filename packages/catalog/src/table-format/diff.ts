import type { Table } from 'apache-arrow';
import type { ManifestReader } from './manifest-io.js';
import { plainRows, sameRow } from './rows.js';
import type { ChunkDiff, ChunkInfo, Manifest, RowDiff } from './table-format.js';

/**
 * Chunks of `to` not in `from` (added, in `to`'s order) and of `from` not in `to` (removed), counted as
 * multisets. When both manifests are paged, pages with equal hashes are skipped unread: their chunks
 * are on both sides.
 */
export async function chunkDiff(reader: ManifestReader, from: Manifest | null, to: Manifest | null): Promise<ChunkDiff> {
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
  return { added: minus(b, a), removed: minus(a, b) };
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
export function rowDiff(keyColumns: string[], removed: Table | null, added: Table | null): RowDiff {
  const before = removed ? plainRows(removed) : [];
  const after = added ? plainRows(added) : [];
  const diff: RowDiff = { keyColumns, added: [], removed: [], changed: [] };
  if (keyColumns.length === 0) {
    const n = Math.min(before.length, after.length);
    for (let i = 0; i < n; i++) {
      if (!sameRow(before[i]!, after[i]!)) diff.changed.push({ key: [i], before: before[i]!, after: after[i]! });
    }
    diff.removed.push(...before.slice(n));
    diff.added.push(...after.slice(n));
    return diff;
  }
  const keyOf = (row: Record<string, unknown>): unknown[] => keyColumns.map((k) => row[k] ?? null);
  // Key columns hold one type each, so a single value is its own Map key; several are joined.
  const id = keyColumns.length === 1 ? (key: unknown[]): unknown => key[0] : (key: unknown[]): unknown => key.map(String).join('\u0000');
  const old = new Map<unknown, Record<string, unknown>>();
  for (const row of before) old.set(id(keyOf(row)), row);
  for (const row of after) {
    const key = keyOf(row);
    const k = id(key);
    const prev = old.get(k);
    if (prev === undefined) {
      diff.added.push(row);
    } else {
      old.delete(k);
      if (!sameRow(prev, row)) diff.changed.push({ key, before: prev, after: row });
    }
  }
  diff.removed.push(...old.values());
  return diff;
}
