import { Bool, makeData, makeVector, Table, tableFromIPC, Utf8, vectorFromArray } from 'apache-arrow';
import type { Data, Vector } from 'apache-arrow';
import { arrowType, type ManifestSchema } from './column-types.js';
import { compareRows, gatherKeys, keyVectors, seekRow, type KeyVectors } from './keys.js';
import type { ParquetCodec } from './native-codec.js';
import { CorruptMetadataError } from '../errors.js';
import { PairBuilder } from './rechunk.js';
import { concatDecoded } from './rows.js';
import { DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN, type Manifest } from './table-format.js';

/**
 * The rows of a keyed table's delta (merge-on-read, see FORMAT.md): the table's columns, then (`partial`,
 * formatVersion 3) which columns keep the base row's value, then a boolean tombstone flag; one row per
 * changed key, sorted by key.
 */
export function deltaSchema(schema: ManifestSchema, partial: boolean): ManifestSchema {
  // Nullable throughout: tombstones hold null in every non-key column, whatever the table declares.
  const fields = schema.fields.map((f) => ({ ...f, nullable: true }));
  if (partial) fields.push({ name: DELTA_UNCHANGED_COLUMN, type: 'utf8', nullable: true });
  fields.push({ name: DELTA_DELETED_COLUMN, type: 'bool', nullable: true });
  return { fields };
}

/** Whether a manifest's delta rows may keep base values (its chunks carry DELTA_UNCHANGED_COLUMN). */
export function hasPartialRows(m: Pick<Manifest, 'formatVersion'>): boolean {
  return m.formatVersion === 3 || m.formatVersion === 4;
}

/**
 * The rows of a delta of several sorted runs that are its logical delta: per key, the row of the newest
 * run holding it (runs oldest first, each its chunks' key runs in key order). `chunk` numbers chunks
 * across runs (run 0's first, ...), `row` within the chunk; `run` is their keys and flags, in key order.
 */
export interface DeltaWinners {
  readonly chunk: Uint32Array;
  readonly row: Uint32Array;
  readonly run: KeyRun;
}

export function deltaWinners(runs: ReadonlyArray<readonly KeyRun[]>): DeltaWinners {
  const k = runs.length;
  const offset = new Uint32Array(k);
  const flat: KeyRun[] = [];
  runs.forEach((r, i) => {
    offset[i] = flat.length;
    flat.push(...r);
  });
  let total = 0;
  for (const c of flat) total += c.keys.length;
  // Per run: the chunk and row of its next row (chunk === length: exhausted).
  const ci = new Uint32Array(k);
  const ri = new Uint32Array(k);
  const skipEmpty = (i: number): void => {
    while (ci[i]! < runs[i]!.length && ri[i]! >= runs[i]![ci[i]!]!.keys.length) (ci[i]!++, (ri[i] = 0));
  };
  for (let i = 0; i < k; i++) skipEmpty(i);
  const chunk = new Uint32Array(total);
  const row = new Uint32Array(total);
  let n = 0;
  for (;;) {
    // The smallest head key; on a tie the newest run (highest index) wins.
    let best = -1;
    for (let i = 0; i < k; i++) {
      if (ci[i]! >= runs[i]!.length) continue;
      if (best < 0 || compareRows(runs[i]![ci[i]!]!.keys, ri[i]!, runs[best]![ci[best]!]!.keys, ri[best]!) <= 0) best = i;
    }
    if (best < 0) break;
    const winner = runs[best]![ci[best]!]!;
    const wr = ri[best]!;
    // The next smallest head among the other runs: the winner's rows below it go out as one stretch
    // (found by galloping; runs of very different sizes interleave in long stretches).
    let next = -1;
    for (let i = 0; i < k; i++) {
      if (i === best || ci[i]! >= runs[i]!.length) continue;
      if (next < 0 || compareRows(runs[i]![ci[i]!]!.keys, ri[i]!, runs[next]![ci[next]!]!.keys, ri[next]!) < 0) next = i;
    }
    const to = next < 0 ? winner.keys.length : Math.max(wr + 1, seekRow(winner.keys, wr, runs[next]![ci[next]!]!.keys, ri[next]!));
    for (let r = wr; r < to; r++) {
      chunk[n] = offset[best]! + ci[best]!;
      row[n++] = r;
    }
    // Every other run whose head has the last emitted key moves past it (older rows of the key are shadowed).
    for (let i = 0; i < k; i++) {
      if (i === best || ci[i]! >= runs[i]!.length || compareRows(runs[i]![ci[i]!]!.keys, ri[i]!, winner.keys, to - 1) !== 0) continue;
      ri[i]!++;
      skipEmpty(i);
    }
    ri[best] = to;
    skipEmpty(best);
  }
  const c = chunk.slice(0, n);
  const r = row.slice(0, n);
  return { chunk: c, row: r, run: gatherRun(flat, c, r) };
}

/** Per-chunk values (all runs' chunks in turn) grouped back into their runs. */
export function splitRuns<T>(runs: ReadonlyArray<readonly unknown[]>, flat: readonly T[]): T[][] {
  let at = 0;
  return runs.map((r) => flat.slice(at, (at += r.length)));
}

/** Rows picked from key runs (`source`: index in `runs`, `row` within it), keys and flags, as one run. */
export function gatherRun(runs: readonly KeyRun[], source: ArrayLike<number>, row: ArrayLike<number>): KeyRun {
  const n = source.length;
  const keys = gatherKeys(runs.map((r) => r.keys), source, row);
  const anyDeleted = runs.some((r) => r.deleted !== undefined);
  const anyMask = runs.some((r) => r.unchanged !== undefined);
  const deleted = anyDeleted ? new Uint8Array(n) : undefined;
  const unchanged = anyMask ? new Array<string | null>(n).fill(null) : undefined;
  for (let i = 0; i < n; i++) {
    const from = runs[source[i]!]!;
    if (deleted) deleted[i] = from.deleted?.[row[i]!] ?? 0;
    if (unchanged) unchanged[i] = from.unchanged?.[row[i]!] ?? null;
  }
  return { keys, ...(deleted ? { deleted } : {}), ...(unchanged ? { unchanged } : {}) };
}

/**
 * Whether a schema is a delta's (ends with the reserved tombstone flag, which no table column may be
 * named): its chunks are encoded with the `delta` layout, base chunks with `base`.
 */
export function isDeltaSchema(schema: ManifestSchema): boolean {
  return schema.fields.at(-1)?.name === DELTA_DELETED_COLUMN;
}

/**
 * Rows of an insert or upsert (columns in schema order) as live delta rows. `unchanged` (partial deltas
 * only): per input row, its DELTA_UNCHANGED_COLUMN value; a row's columns marked '1' are stored as null
 * (their value is the base row's, which the caller found equal).
 */
export function liveRows(input: Table, schema: ManifestSchema, partial: boolean, unchanged?: ReadonlyArray<string | null>): Table {
  const cols: Record<string, Vector> = {};
  schema.fields.forEach((f, c) => {
    const v = input.getChild(f.name)!;
    cols[f.name] = unchanged ? withoutValues(v, (i) => unchanged[i]?.[c] === '1') : v;
  });
  if (partial) cols[DELTA_UNCHANGED_COLUMN] = masksVector(unchanged, input.numRows);
  cols[DELTA_DELETED_COLUMN] = constantBools(input.numRows, false);
  return new Table(cols);
}

/**
 * A column of `n` equal booleans, its bitmap built directly (vectorFromArray goes through Arrow's
 * builder, one call per row: ~1 ms per 10K rows of an edit for a column whose every value is known).
 */
export function constantBools(n: number, value: boolean): Vector {
  return makeVector(makeData({ type: new Bool(), length: n, nullCount: 0, data: new Uint8Array(Math.ceil(n / 8)).fill(value ? 0xff : 0) }));
}

/** DELTA_UNCHANGED_COLUMN values ('0'/'1' masks, or null: a whole row) as a Utf8 column, built directly. */
export function masksVector(masks: ReadonlyArray<string | null> | undefined, n: number): Vector {
  const offsets = new Int32Array(n + 1);
  const validity = new Uint8Array(Math.ceil(n / 8));
  let bytes = 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const m = masks?.[i];
    if (m == null) nulls++;
    else {
      bytes += m.length;
      validity[i >> 3]! |= 1 << (i & 7);
    }
    offsets[i + 1] = bytes;
  }
  const data = new Uint8Array(bytes);
  if (masks) {
    for (let i = 0; i < n; i++) {
      const m = masks[i];
      // Masks are ASCII '0'/'1' (checked where they are read back), one byte per char.
      if (m != null) for (let k = 0; k < m.length; k++) data[offsets[i]! + k] = m.charCodeAt(k);
    }
  }
  return makeVector(makeData({ type: new Utf8(), length: n, nullCount: nulls, nullBitmap: validity, valueOffsets: offsets, data }));
}

/**
 * `v` with the rows `drop` selects set to null. Only the validity bitmap is replaced: the value buffers
 * are shared (a writer ignores values under a null), whatever the column type.
 */
function withoutValues(v: Vector, drop: (row: number) => boolean): Vector {
  let at = 0;
  const parts = v.data.map((d: Data) => {
    const start = at;
    at += d.length;
    const bitmap = new Uint8Array(Math.ceil((d.offset + d.length) / 8));
    let nulls = 0;
    for (let i = 0; i < d.length; i++) {
      const bit = d.offset + i;
      const valid = (d.nullBitmap === undefined || d.nullBitmap.byteLength === 0 || (d.nullBitmap[bit >> 3]! >> (bit & 7)) & 1) && !drop(start + i);
      if (valid) bitmap[bit >> 3]! |= 1 << (bit & 7);
      else nulls++;
    }
    return nulls === 0 ? d : d.clone(d.type, d.offset, d.length, nulls, [d.valueOffsets, d.values, bitmap, d.typeIds] as never);
  });
  return makeVector(parts);
}

/** Tombstones for the keys of `keys`: key columns set, every other column null, the flag true. */
export function tombstoneRows(keys: Table, schema: ManifestSchema, primaryKey: readonly string[], partial: boolean): Table {
  const cols: Record<string, Vector> = {};
  for (const f of schema.fields) {
    cols[f.name] = primaryKey.includes(f.name) ? keys.getChild(f.name)! : vectorFromArray(new Array(keys.numRows).fill(null), arrowType(f.type));
  }
  if (partial) cols[DELTA_UNCHANGED_COLUMN] = masksVector(undefined, keys.numRows);
  cols[DELTA_DELETED_COLUMN] = constantBools(keys.numRows, true);
  return new Table(cols);
}

/**
 * A sorted run of rows by key (one decoded chunk), with tombstone flags for delta runs and, for partial
 * deltas, each row's DELTA_UNCHANGED_COLUMN value.
 */
export interface KeyRun {
  readonly keys: KeyVectors;
  /** Per row, 1 for a tombstone. */
  readonly deleted?: Uint8Array;
  readonly unchanged?: ReadonlyArray<string | null>;
}

/**
 * Decoded IPC of a chunk as a key run (`flags`: decoded delta columns of the same chunk: the tombstone
 * flag and, in partial deltas, DELTA_UNCHANGED_COLUMN).
 */
export function keyRun(ipc: Uint8Array, schema: ManifestSchema, primaryKey: readonly string[], flags?: Uint8Array): KeyRun {
  const keys = keyVectors(tableFromIPC(ipc), primaryKey, schema);
  if (!flags) return { keys };
  return { keys, ...deltaFlags(tableFromIPC(flags)) };
}

/**
 * The delta columns of decoded delta rows: tombstone flags (1: tombstone; a null flag counts as not)
 * and, for partial deltas, unchanged masks. The flags are unpacked from the bitmap: Arrow's Bool
 * toArray() walks the rows one iterator step at a time.
 */
export function deltaFlags(t: Table): { deleted: Uint8Array; unchanged?: Array<string | null> } {
  const deleted = unpackBools(t.getChild(DELTA_DELETED_COLUMN)!);
  const u = t.getChild(DELTA_UNCHANGED_COLUMN);
  // A run without any partial row needs no masks (the common case: inserts, deletes, whole-row updates).
  return u === null || u.nullCount === u.length ? { deleted } : { deleted, unchanged: [...u] as Array<string | null> };
}

/** A Bool column as one byte per row: 1 where the value is true (false and null give 0). */
function unpackBools(v: Vector): Uint8Array {
  const out = new Uint8Array(v.length);
  let at = 0;
  for (const d of v.data as Data[]) {
    const values = d.values as Uint8Array;
    const valid = d.nullCount > 0 ? d.nullBitmap : undefined;
    for (let i = 0; i < d.length; i++) {
      const bit = d.offset + i;
      if ((values[bit >> 3]! >> (bit & 7)) & 1 && (!valid || (valid[bit >> 3]! >> (bit & 7)) & 1)) out[at + i] = 1;
    }
    at += d.length;
  }
  return out;
}

/** The columns holding a delta's flags: the tombstone flag, and the unchanged masks of partial deltas. */
export function flagColumns(partial: boolean): string[] {
  return partial ? [DELTA_UNCHANGED_COLUMN, DELTA_DELETED_COLUMN] : [DELTA_DELETED_COLUMN];
}

/**
 * Delta rows that keep some base values, as `overlayPicks` found them: for the k-th, the output row it
 * gives, its base row (source and row; source -1 when no base run held its key) and its mask.
 */
export interface Patches {
  readonly out: number[];
  readonly source: number[];
  readonly row: number[];
  readonly mask: string[];
}

/** The overlay's rows and the base values partial delta rows keep. */
export interface Overlay {
  readonly picks: Uint32Array;
  readonly patches: Patches;
  /**
   * From `overlayPicks`: per base run k, the pair offset from which its rows are the ones being merged
   * (base.length + 1 entries; the last starts the delta rows after every base row). Pairs
   * [starts[k], starts[k + 1]) take base rows from run k only, and every patch among them keeps values
   * of run k: a read can materialise them from that run and the delta alone.
   */
  readonly starts?: Uint32Array;
}

/**
 * The logical rows of sorted base runs (sources 0..base.length-1) overlaid with sorted delta runs
 * (sources base.length..): a delta row replaces the base row with its key or adds one; a tombstone
 * removes the base row and is itself dropped. Flat (source, row) pairs in key order. `winners`: the one
 * delta run given is the newest rows of several runs (`deltaWinners`), and each of its rows is picked as
 * (base.length + its chunk among every run's chunks, its row in that chunk).
 */
export function overlayPicks(base: readonly KeyRun[], delta: readonly KeyRun[], winners?: Pick<DeltaWinners, 'chunk' | 'row'>): Overlay & { readonly starts: Uint32Array } {
  let rows = 0;
  for (const r of [...base, ...delta]) rows += r.keys.length;
  const out = new PairBuilder(rows);
  const patches: Patches = { out: [], source: [], row: [], mask: [] };
  const starts = new Uint32Array(base.length + 1);
  let bi = 0;
  let bx = 0;
  let di = 0;
  let dx = 0;
  const nextBase = (): void => {
    while (bi < base.length && bx >= base[bi]!.keys.length) (bi++, (bx = 0), (starts[bi] = out.pairs));
  };
  const nextDelta = (): void => {
    while (di < delta.length && dx >= delta[di]!.keys.length) (di++, (dx = 0));
  };
  nextBase();
  nextDelta();
  while (bi < base.length || di < delta.length) {
    if (bi < base.length) {
      // The base rows before the next delta key go out as one run (found by galloping, not row by row).
      const run = base[bi]!.keys;
      const to = di < delta.length ? seekRow(run, bx, delta[di]!.keys, dx) : run.length;
      out.pushRun(bi, bx, to);
      bx = to;
      if (bx >= run.length) {
        nextBase();
        continue;
      }
    }
    // Here the delta row's key is <= the base row's (or the base is exhausted).
    const c = bi >= base.length ? 1 : compareRows(base[bi]!.keys, bx, delta[di]!.keys, dx);
    const d = delta[di]!;
    if (!d.deleted?.[dx]) {
      const mask = d.unchanged?.[dx];
      if (mask) {
        patches.out.push(out.pairs);
        patches.source.push(c === 0 ? bi : -1);
        patches.row.push(c === 0 ? bx : 0);
        patches.mask.push(mask);
      }
      // Winners of several runs (one delta run given): their pairs name the delta chunk and row they came from.
      if (winners) out.push(base.length + winners.chunk[dx]!, winners.row[dx]!);
      else out.push(base.length + di, dx);
    }
    dx++;
    if (c === 0) bx++;
    nextBase();
    nextDelta();
  }
  const picks = out.view();
  // The builder was sized for every row, so replaced rows and tombstones leave room unused: the view is
  // kept (no 8 MB copy per million rows) unless more than an eighth of the buffer would be wasted.
  return { picks: picks.byteLength * 8 >= picks.buffer.byteLength * 7 ? picks : picks.slice(), patches, starts };
}

/**
 * A partial delta row (it keeps base values) whose key no base row holds. A partial row is only ever
 * written for a key the base holds, and the base does not change under a delta: the delta is corrupt.
 */
export function orphanPartialRow(row: string): CorruptMetadataError {
  return new CorruptMetadataError('delta row', row, 'it keeps base values but no base row has its key');
}

/**
 * The picks of each group of `columns` that take the same rows from the base: a partial delta row's
 * pick is replaced, for each column its mask marks '1', by its base row. Columns no patch touches form
 * one group with the overlay's own picks. `fieldNames`: the table's columns in schema order (mask
 * positions).
 */
export function patchedPicks(overlay: Overlay, columns: readonly string[], fieldNames: readonly string[]): Array<{ columns: string[]; picks: Uint32Array }> {
  const { picks, patches } = overlay;
  if (patches.out.length === 0) return [{ columns: [...columns], picks }];
  const lost = patches.source.findIndex((s) => s < 0);
  if (lost >= 0) throw orphanPartialRow(`#${patches.out[lost]!}`);
  const masks = [...new Set(patches.mask)];
  const groups = new Map<string, string[]>();
  for (const c of columns) {
    const at = fieldNames.indexOf(c);
    // Columns are patched at the same rows exactly when every distinct mask agrees on them.
    const sig = masks.map((m) => m[at] ?? '0').join('');
    const g = groups.get(sig);
    if (g) g.push(c);
    else groups.set(sig, [c]);
  }
  return [...groups].map(([sig, cols]) => {
    if (!sig.includes('1')) return { columns: cols, picks };
    const keep = new Set(masks.filter((_, i) => sig[i] === '1'));
    const p = picks.slice();
    for (let k = 0; k < patches.out.length; k++) {
      if (!keep.has(patches.mask[k]!)) continue;
      p[2 * patches.out[k]!] = patches.source[k]!;
      p[2 * patches.out[k]! + 1] = patches.row[k]!;
    }
    return { columns: cols, picks: p };
  });
}

/** Builds the picked rows of IPC sources (same columns) into one Arrow table, through the codec. */
export async function materialise(codec: ParquetCodec, sources: readonly Uint8Array[], picks: Uint32Array, schema: ManifestSchema, columns: readonly string[]): Promise<Table> {
  return concatDecoded(schema, columns, picks.length === 0 ? [] : [await materialiseIpc(codec, sources, picks, columns)]);
}

/**
 * The overlay's rows of `columns` as one Arrow IPC stream (IPC sources: base runs then delta runs, as
 * the overlay numbered them), partial delta rows completed from their base rows: the columns patched
 * alike (`patchedPicks`) share a pick array, all taken in one interleave.
 */
export async function materialiseOverlay(codec: ParquetCodec, sources: readonly Uint8Array[], overlay: Overlay, columns: readonly string[], fieldNames: readonly string[]): Promise<Uint8Array> {
  const groups = patchedPicks(overlay, columns, fieldNames);
  if (groups.length === 1) return materialiseIpc(codec, sources, groups[0]!.picks, columns);
  const others = groups.filter((g) => g.picks !== overlay.picks);
  const of = columns.map((c) => others.findIndex((g) => g.columns.includes(c)));
  const all = [overlay.picks, ...others.map((g) => g.picks)];
  return codec.interleave(onlyUsed(sources, all), overlay.picks, columns, { picks: others.map((g) => g.picks), of });
}

/** The picked rows as one Arrow IPC stream of `columns`; only the sources picks use are loaded. */
export async function materialiseIpc(codec: ParquetCodec, sources: readonly Uint8Array[], picks: Uint32Array, columns: readonly string[]): Promise<Uint8Array> {
  return codec.interleave(onlyUsed(sources, [picks]), picks, columns);
}

/** A source no pick uses, in a list given to the codec: it loads as no rows, and the others keep their numbers. */
export const NO_SOURCE = new Uint8Array(0);

/**
 * `sources` with every one no pick of `lists` uses replaced by NO_SOURCE, so the codec does not load it
 * (a scan of the picks' runs; it stops once every given source is seen).
 */
function onlyUsed(sources: readonly Uint8Array[], lists: readonly Uint32Array[]): readonly Uint8Array[] {
  const count = sources.length;
  const seen = new Uint8Array(count);
  let missing = 0;
  for (const s of sources) if (s.byteLength > 0) missing++;
  const given = missing;
  for (const picks of lists) {
    let last = -1;
    for (let i = 0; i < picks.length && missing > 0; i += 2) {
      const s = picks[i]!;
      if (s === last) continue;
      last = s;
      if (s < count && seen[s] === 0) {
        seen[s] = 1;
        if (sources[s]!.byteLength > 0) missing--;
      }
    }
  }
  if (missing === 0 && given === count) return sources;
  return sources.map((s, i) => (seen[i] ? s : NO_SOURCE));
}
