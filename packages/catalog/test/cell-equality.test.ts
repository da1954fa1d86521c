// Cell equality on Arrow buffers (used to find the columns an upsert leaves as they were) must say what
// comparing the values says: Object.is for numbers, bytes for strings and binary, null only equal to null.
import { describe, expect, it } from 'vitest';
import {
  Binary, Bool, DateDay, Float32, Float64, Int16, Int32, Int64, Int8, TimestampMicrosecond, TimestampMillisecond, Uint64, Utf8,
  vectorFromArray, type DataType, type Vector,
} from 'apache-arrow';
import { cellEquality } from '../src/table-format/cell-equality.js';
import { sameValue } from '../src/table-format/rows.js';

const slowCalls = { n: 0 };
const slow = (a: unknown, b: unknown): boolean => (slowCalls.n++, typeof a === 'number' && typeof b === 'number' ? Object.is(a, b) : sameValue(a, b));
const reference = (a: unknown, b: unknown): boolean => (typeof a === 'number' && typeof b === 'number' ? Object.is(a, b) : sameValue(a, b));

function check(type: DataType, values: unknown[]): void {
  const a = vectorFromArray(values, type);
  // The same values in reverse, sliced out of a longer vector (offset buffers, bit offsets).
  const padded = vectorFromArray([values[0], values[1], values[2], ...[...values].reverse()], type).slice(3) as Vector;
  for (const b of [a, padded]) {
    const eq = cellEquality(a, b, slow);
    for (let i = 0; i < a.length; i++) {
      for (let j = 0; j < b.length; j++) expect(eq(i, j), `${String(type)} [${i}] ${String(a.get(i))} vs [${j}] ${String(b.get(j))}`).toBe(reference(a.get(i) ?? null, b.get(j) ?? null));
    }
  }
}

describe('cellEquality', () => {
  it('agrees with comparing values, every column type, nulls and slices included', () => {
    slowCalls.n = 0;
    check(new Utf8(), ['a', '', null, 'é😀', 'ab', 'a', null]);
    check(new Binary(), [Uint8Array.of(1, 2), new Uint8Array(0), null, Uint8Array.of(1), Uint8Array.of(1, 2)]);
    check(new Bool(), [true, false, null, true, true, false, false, null, true]);
    check(new Float64(), [0, -0, NaN, Number.NaN * -1, 1.5, null, Infinity, -Infinity, 1.5]);
    check(new Float32(), [0, -0, NaN, 1.5, null, 3.25]);
    check(new Int64(), [0n, -1n, 2n ** 62n, null, -(2n ** 63n), 5n, 5n]);
    check(new Uint64(), [0n, 2n ** 64n - 1n, null, 7n]);
    check(new Int32(), [0, -1, 2 ** 31 - 1, null, 7, 7]);
    check(new Int16(), [0, -1, 300, null, 300]);
    check(new Int8(), [0, -1, 100, null, -1]);
    check(new DateDay(), [0, 86_400_000, null, 86_400_000 * 365]);
    check(new TimestampMillisecond(), [0, 1_700_000_000_000, null, -1]);
    check(new TimestampMicrosecond(), [0, 1_700_000_000_000, null, 5]);
    expect(slowCalls.n).toBe(0);
  });

  it('falls back to the values for columns of several chunks', () => {
    slowCalls.n = 0;
    const a = vectorFromArray(['x', 'y'], new Utf8()).concat(vectorFromArray(['z'], new Utf8()));
    const b = vectorFromArray(['z', 'x', null], new Utf8());
    const eq = cellEquality(a, b, slow);
    expect([eq(0, 1), eq(2, 0), eq(1, 0), eq(1, 2)]).toEqual([true, true, false, false]);
    expect(slowCalls.n).toBe(4);
  });
});
