// The row diff on Arrow buffers (diffPicked) against the diff on materialised values (rowDiff).
import { describe, expect, it } from 'vitest';
import { Binary, Bool, Float64, Int32, Int64, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { rowDiff } from '../src/table-format/diff.js';
import { keyVectors } from '../src/table-format/keys.js';
import { diffPicked, materialisePicked, type PickedRows } from '../src/table-format/picked-diff.js';
import type { ManifestSchema } from '../src/table-format/column-types.js';
import { rng } from './table-format-helpers.js';

type Row = { id: bigint; s: string | null; f: number | null; i: number | null; b: boolean | null; x: Uint8Array | null; extra?: number | null };

const FLOATS = [0, -0, 1.5, Number.NaN, null, 2 ** 60, -3.25];
const STRINGS = ['', 'a', 'é', 'ab', 'b', null, 'x'.repeat(40)];

function schema(extra: boolean): ManifestSchema {
  const fields: ManifestSchema['fields'] = [
    { name: 'id', type: 'int64', nullable: false },
    { name: 's', type: 'utf8', nullable: true },
    { name: 'f', type: 'float64', nullable: true },
    { name: 'i', type: 'int32', nullable: true },
    { name: 'b', type: 'bool', nullable: true },
    { name: 'x', type: 'binary', nullable: true },
  ];
  if (extra) fields.push({ name: 'extra', type: 'int32', nullable: true });
  return { fields };
}

function table(rows: readonly Row[], extra: boolean): Table {
  const cols: Record<string, ReturnType<typeof vectorFromArray>> = {
    id: vectorFromArray(rows.map((r) => r.id), new Int64()),
    s: vectorFromArray(rows.map((r) => r.s), new Utf8()),
    f: vectorFromArray(rows.map((r) => r.f), new Float64()),
    i: vectorFromArray(rows.map((r) => r.i), new Int32()),
    b: vectorFromArray(rows.map((r) => r.b), new Bool()),
    x: vectorFromArray(rows.map((r) => r.x), new Binary()),
  };
  if (extra) cols.extra = vectorFromArray(rows.map((r) => r.extra ?? null), new Int32());
  return new Table(cols);
}

/** Rows split into 1-3 tables; pairs in order, some columns read from other tables of the same rows. */
function picked(rows: readonly Row[], extra: boolean, random: () => number): PickedRows {
  const parts: Row[][] = [];
  let at = 0;
  while (at < rows.length) {
    const n = Math.max(1, Math.floor(random() * rows.length));
    parts.push(rows.slice(at, at + n));
    at += n;
  }
  const s = schema(extra);
  const tables = parts.map((p) => table(p, extra));
  // A copy of every table, so a column's pairs can point elsewhere (as partial delta rows do).
  const copies = parts.map((p) => table(p, extra));
  const all = [...tables, ...copies];
  const picks = new Uint32Array(2 * rows.length);
  let k = 0;
  tables.forEach((t, ti) => {
    for (let r = 0; r < t.numRows; r++, k++) (picks[2 * k] = ti), (picks[2 * k + 1] = r);
  });
  const moved = picks.slice();
  for (let p = 0; p < moved.length; p += 2) if (random() < 0.5) moved[p] = moved[p]! + tables.length;
  return { names: s.fields.map((f) => f.name), tables: all, keys: all.map((t) => keyVectors(t, ['id'], s)), picks, columnPicks: new Map([['s', moved]]) };
}

function randomRow(id: bigint, random: () => number): Row {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  return {
    id,
    s: pick(STRINGS),
    f: pick(FLOATS),
    i: random() < 0.2 ? null : Math.floor(random() * 3),
    b: pick([true, false, null]),
    x: random() < 0.3 ? null : Uint8Array.from([Math.floor(random() * 2), 7]),
    extra: random() < 0.5 ? null : 1,
  };
}

describe('diffPicked', () => {
  it('gives the merge join of materialised rows its answer: nulls, NaN, -0, bytes, missing columns, moved pairs', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = rng(seed);
      const before: Row[] = [];
      const after: Row[] = [];
      for (let id = 0n; id < 60n; id++) {
        const r = random();
        if (r < 0.15) before.push(randomRow(id, random));
        else if (r < 0.3) after.push(randomRow(id, random));
        else if (r < 0.8) {
          const row = randomRow(id, random);
          before.push(row);
          // Mostly the same row, sometimes one cell changed.
          after.push(random() < 0.6 ? { ...row } : { ...row, ...{ [(['s', 'f', 'i', 'b', 'x'] as const)[Math.floor(random() * 5)]!]: randomRow(id, random).s } });
        }
      }
      const extraBefore = seed % 3 === 0;
      const extraAfter = seed % 4 === 0;
      const a = before.length > 0 ? picked(before, extraBefore, random) : null;
      const b = after.length > 0 ? picked(after, extraAfter, random) : null;
      const expected = rowDiff(['id'], a && materialisePicked(a), b && materialisePicked(b), true);
      expect(diffPicked(['id'], a, b), `seed ${seed}`).toEqual(expected);
    }
  });

  it('reads a moved column from the pairs given for it', () => {
    const rows: Row[] = [{ id: 1n, s: 'a', f: 1, i: 1, b: true, x: null }];
    const other: Row[] = [{ id: 1n, s: 'changed', f: 1, i: 1, b: true, x: null }];
    const s = schema(false);
    const tables = [table(rows, false), table(other, false)];
    const base: PickedRows = { names: s.fields.map((f) => f.name), tables, keys: tables.map((t) => keyVectors(t, ['id'], s)), picks: Uint32Array.from([0, 0]) };
    const moved: PickedRows = { ...base, columnPicks: new Map([['s', Uint32Array.from([1, 0])]]) };
    expect(diffPicked(['id'], base, base).changed).toEqual([]);
    const d = diffPicked(['id'], base, moved);
    expect(d.changed).toEqual([{ key: [1n], before: { id: 1n, s: 'a', f: 1, i: 1, b: true, x: null }, after: { id: 1n, s: 'changed', f: 1, i: 1, b: true, x: null } }]);
  });
});
