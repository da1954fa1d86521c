import type { ChunkInfo, ColumnStats, ColumnType, Manifest } from '@armillaria/catalog';
import type { Bound, ColumnRange } from './sql-analysis.js';

const NUMERIC: ReadonlySet<ColumnType> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float64']);
// float32 is left out: DuckDB compares a float32 column with a literal rounded to float32, which the stats cannot mirror exactly.
const INTEGRAL: ReadonlySet<ColumnType> = new Set(['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64']);
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

/**
 * The chunks a query must read: a chunk is dropped only when, for some reference's ranges, every
 * reference to the table rules it out. Conservative throughout: unknown stats, an all-null or absent
 * min/max, a column of an unsupported type, or a bound of another kind keep the chunk.
 */
export function pruneChunks(manifest: Pick<Manifest, 'schema'>, chunks: readonly ChunkInfo[], references: ReadonlyArray<readonly ColumnRange[]>): ChunkInfo[] {
  if (references.length === 0 || references.some((r) => r.length === 0)) return [...chunks];
  const types = new Map(manifest.schema.fields.map((f) => [f.name, f.type] as const));
  return chunks.filter((chunk) => references.some((ranges) => ranges.every((range) => rangeMayMatch(types.get(range.column), chunk.stats[range.column], range))));
}

function rangeMayMatch(type: ColumnType | undefined, stats: ColumnStats | undefined, range: ColumnRange): boolean {
  if (!type || !stats || stats.min === null || stats.max === null || stats.min === undefined || stats.max === undefined) return true;
  const exact = INTEGRAL.has(type) ? integerStats(stats) : undefined;
  if (range.min && compare(type, exact ? exact.max : stats.max, range.min) === -1) return false;
  if (range.max && compare(type, exact ? exact.min : stats.min, range.max) === 1) return false;
  return true;
}

// Integer stats parsed once per stats object: manifests' chunk lists are cached by the engine, and a
// query prunes every chunk of every table it reads (BigInt parsing was most of the pruning time).
const parsed = new WeakMap<ColumnStats, { min: bigint; max: bigint } | null>();
function integerStats(stats: ColumnStats): { min: bigint; max: bigint } | undefined {
  let p = parsed.get(stats);
  if (p === undefined) {
    const big = (v: unknown): bigint | undefined => {
      if (typeof v !== 'string' && typeof v !== 'number') return undefined;
      try {
        return BigInt(v);
      } catch {
        return undefined;
      }
    };
    const min = big(stats.min);
    const max = big(stats.max);
    p = min !== undefined && max !== undefined ? { min, max } : null;
    parsed.set(stats, p);
  }
  return p ?? undefined;
}

/** -1 / 0 / 1 for `stat` vs `bound`, or undefined when they cannot be compared safely. */
function compare(type: ColumnType, stat: unknown, bound: Bound): -1 | 0 | 1 | undefined {
  if (bound.kind === 'number' && NUMERIC.has(type)) {
    if (INTEGRAL.has(type)) {
      // int64 stats are decimal strings: compare exactly as bigints; a fractional bound is widened by the caller's
      // inclusive semantics, so compare it against the exact integer via floor/ceil.
      if (typeof stat !== 'bigint' && typeof stat !== 'string' && typeof stat !== 'number') return undefined;
      let s: bigint;
      try {
        s = BigInt(stat);
      } catch {
        return undefined;
      }
      if (Number.isInteger(bound.value)) return sign(s - BigInt(bound.value));
      const floor = BigInt(Math.floor(bound.value));
      return s <= floor ? -1 : 1;
    }
    const s = typeof stat === 'number' ? stat : typeof stat === 'string' ? Number(stat) : NaN;
    if (Number.isNaN(s)) return undefined;
    return s < bound.value ? -1 : s > bound.value ? 1 : 0;
  }
  if (bound.kind === 'string' && type === 'utf8' && typeof stat === 'string') {
    // Any order of code points agrees with byte order when the bound is ASCII (see README), so stats
    // computed in either order prune correctly. A non-ASCII bound keeps the chunk.
    if (!ASCII.test(bound.value)) return undefined;
    const c = Buffer.compare(Buffer.from(stat, 'utf8'), Buffer.from(bound.value, 'utf8'));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return undefined;
}

function sign(v: bigint): -1 | 0 | 1 {
  return v < 0n ? -1 : v > 0n ? 1 : 0;
}

/**
 * The delta chunks (merge-on-read) a view over the `kept` base chunks needs: those that may hold live rows
 * for the query (`live`: kept by the same stats pruning), and those whose key range overlaps a kept base
 * chunk's (they may hide its rows). A delta chunk whose keys lie outside every kept base chunk hides
 * nothing the query reads, so a 1% key range does not read a whole delta. Conservative: a key of several
 * columns, missing stats or keys that cannot be compared exactly keep the chunk.
 */
export function deltaChunksToRead(manifest: Pick<Manifest, 'schema'>, keyColumns: readonly string[], kept: readonly ChunkInfo[], delta: readonly ChunkInfo[], live: ReadonlySet<string>, runStarts?: readonly number[]): ChunkInfo[] {
  const overlap = keyOverlap(manifest, keyColumns);
  const read = delta.map((d) => live.has(d.hash) || kept.some((b) => overlap(b, d)));
  if (runStarts && runStarts.length > 1) {
    // Several runs: a row read from one chunk is overridden by a newer run's row of its key, so every
    // chunk of a newer run overlapping a chunk read is read too (in run order, so transitively).
    const runOf = runIndex(delta.length, runStarts);
    for (let i = 0; i < delta.length; i++) {
      if (read[i]) continue;
      const older = runStarts[runOf[i]!]!;
      for (let j = 0; j < older; j++) {
        if (read[j] && overlap(delta[j]!, delta[i]!)) {
          read[i] = true;
          break;
        }
      }
    }
  }
  return delta.filter((_, i) => read[i]);
}

/** The run of each of `n` delta chunks, from the index where each run starts (`TableLayout.delta.runStarts`). */
export function runIndex(n: number, runStarts: readonly number[]): Uint32Array {
  const out = new Uint32Array(n);
  runStarts.forEach((start, r) => out.fill(r, start, runStarts[r + 1] ?? n));
  return out;
}

/**
 * The base chunks whose key range overlaps one of the `delta` chunks' (those that may hold the base row
 * of a delta row). Conservative like `deltaChunksToRead`.
 */
export function baseChunksUnder(manifest: Pick<Manifest, 'schema'>, keyColumns: readonly string[], base: readonly ChunkInfo[], delta: readonly ChunkInfo[]): ChunkInfo[] {
  const overlap = keyOverlap(manifest, keyColumns);
  return base.filter((b) => delta.some((d) => overlap(b, d)));
}

/** Whether two chunks' key ranges may overlap (always, unless the key is one column of a comparable type). */
function keyOverlap(manifest: Pick<Manifest, 'schema'>, keyColumns: readonly string[]): (a: ChunkInfo, b: ChunkInfo) => boolean {
  const key = keyColumns.length === 1 ? keyColumns[0]! : undefined;
  const type = key === undefined ? undefined : manifest.schema.fields.find((f) => f.name === key)?.type;
  return (a, b) => keyRangesMayOverlap(type, key, a, b);
}

function keyRangesMayOverlap(type: ColumnType | undefined, key: string | undefined, a: ChunkInfo, b: ChunkInfo): boolean {
  if (type === undefined || key === undefined) return true;
  const x = a.stats[key];
  const y = b.stats[key];
  if (!x || !y || x.min == null || x.max == null || y.min == null || y.max == null) return true;
  // Disjoint exactly when one range ends before the other starts.
  return !(compareStats(type, x, 'max', y, 'min') === -1 || compareStats(type, y, 'max', x, 'min') === -1);
}

/** -1 / 0 / 1 for one stat of `a` vs one of `b`, or undefined when they cannot be compared exactly. */
function compareStats(type: ColumnType, a: ColumnStats, ak: 'min' | 'max', b: ColumnStats, bk: 'min' | 'max'): -1 | 0 | 1 | undefined {
  if (INTEGRAL.has(type)) {
    const x = integerStats(a);
    const y = integerStats(b);
    return x && y ? sign(x[ak] - y[bk]) : undefined;
  }
  const u = a[ak];
  const v = b[bk];
  if (type === 'float64' && typeof u === 'number' && typeof v === 'number' && !Number.isNaN(u) && !Number.isNaN(v)) return u < v ? -1 : u > v ? 1 : 0;
  if (type === 'utf8' && typeof u === 'string' && typeof v === 'string' && ASCII.test(u) && ASCII.test(v)) {
    const c = Buffer.compare(Buffer.from(u, 'utf8'), Buffer.from(v, 'utf8'));
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  return undefined;
}
