import { comparable } from './column-types.js';
import { compareStrings } from './keys.js';
import type { ColumnStats, ColumnType, ReadOptions } from './table-format.js';

type Cmp = number | bigint | string | boolean;

function cmp(a: Cmp, b: Cmp): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether a chunk may hold a value of `range.column` in [min, max] given its stats. Conservative:
 * unknown stats or bounds of a type that cannot be compared keep the chunk. A chunk of only nulls
 * (null min and max, nullCount = rows) holds no value in any range, but its stats cannot tell all-null
 * from unknown, so it is kept too.
 */
export function chunkMayMatch(type: ColumnType, stats: ColumnStats | undefined, range: NonNullable<ReadOptions['range']>): boolean {
  if (!stats) return true;
  const min = comparable(type, stats.min);
  const max = comparable(type, stats.max);
  const lo = comparable(type, range.min);
  const hi = comparable(type, range.max);
  if (lo !== undefined && max !== undefined && cmp(max, lo) < 0) return false;
  if (hi !== undefined && min !== undefined && cmp(min, hi) > 0) return false;
  return true;
}
