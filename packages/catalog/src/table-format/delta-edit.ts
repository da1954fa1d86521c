import { mapLimit } from '@armillaria/core';
import { DuplicateKeyError } from '../errors.js';
import { Chunker, type ChunkingParams } from './chunker.js';
import type { KeyRun } from './delta.js';
import { compareKeys, compareRows, jsonKey, seekRow, keyAt, keyFromJson, keyHash, type KeyValue, type KeyVectors } from './keys.js';
import { assignChanges, PairBuilder, type Changes, type EditMode } from './rechunk.js';
import type { Table } from 'apache-arrow';
import type { ManifestSchema } from './column-types.js';
import { sameValue } from './rows.js';
import { cellEquality, type CellEquals } from './cell-equality.js';
import type { ChunkInfo, ColumnType } from './table-format.js';

/** The new delta of an edit, ready for the encoder (sources: the old delta's rows, then the changes'). */
export interface DeltaPlan {
  /** Flat (source, row) pairs: source 0 is the old delta, source 1 the change rows (`liveRows`/`tombstoneRows`). */
  readonly picks: Uint32Array;
  readonly rows: number;
  readonly deletes: number;
  /** Prolly chunk boundaries of the new delta (exclusive end rows), with each chunk's first and last key. */
  readonly cuts: number[];
  readonly firstKeys: KeyValue[][];
  readonly lastKeys: KeyValue[][];
  /** Logical rows added (negative: removed) by the edit. */
  readonly rowChange: number;
}

/**
 * Merges sorted changes into a table's delta (newest wins per key). Whether a key exists before the
 * edit is read from the delta, else from the base (`inBase`): inserts of existing keys throw
 * DuplicateKeyError, deletes of absent keys are no-ops, a delete of a key only the delta holds drops it
 * from the delta, and a delete of a base key leaves a tombstone. The delta is prolly-chunked like base
 * chunks, so unchanged stretches of a large delta keep their chunk hashes.
 */
export function planDelta(old: KeyRun | null, changes: Changes, inBase: Uint8Array, mode: Exclude<EditMode, 'merge'>, params: ChunkingParams, table: string): DeltaPlan {
  const picks = new PairBuilder();
  const cuts: number[] = [];
  const firstKeys: KeyValue[][] = [];
  const lastKeys: KeyValue[][] = [];
  const chunker = new Chunker(params);
  let deletes = 0;
  let rowChange = 0;
  let first: KeyValue[] | undefined;
  let last: { keys: KeyVectors; row: number } | undefined;
  const emit = (keys: KeyVectors, row: number, source: number, tombstone: boolean): void => {
    if (chunker.rowsPending === 0) first = keyAt(keys, row);
    picks.push(source, row);
    if (tombstone) deletes++;
    last = { keys, row };
    if (chunker.push(keyHash(keys, row))) close();
  };
  const close = (): void => {
    cuts.push(picks.pairs);
    firstKeys.push(first!);
    lastKeys.push(keyAt(last!.keys, last!.row));
  };
  const n = old?.keys.length ?? 0;
  const m = changes.order.length;
  let x = 0;
  let y = 0;
  while (x < n || y < m) {
    const r = y < m ? changes.order[y]! : -1;
    const c = x >= n ? 1 : y >= m ? -1 : compareRows(old!.keys, x, changes.keys, r);
    if (c < 0) {
      emit(old!.keys, x, 0, Boolean(old!.deleted?.[x]));
      x++;
      continue;
    }
    const existed = c === 0 ? !old!.deleted?.[x] : inBase[y] === 1;
    if (mode === 'insert' && existed) throw new DuplicateKeyError(table, jsonKey(keyAt(changes.keys, r)));
    if (mode !== 'delete') {
      emit(changes.keys, r, 1, false);
      if (!existed) rowChange++;
    } else {
      if (existed) rowChange--;
      // Only a base row needs hiding; a key the delta alone held simply leaves the delta.
      if (inBase[y] === 1) emit(changes.keys, r, 1, true);
    }
    if (c === 0) x++;
    y++;
  }
  if (chunker.rowsPending > 0) close();
  return { picks: picks.view().slice(), rows: picks.pairs, deletes, cuts, firstKeys, lastKeys, rowChange };
}

/** Where a changed key stands before the edit, in the delta or the base chunks. */
export const KeyState = { Absent: 0, Live: 1, Tombstone: 2 } as const;

/** Where changes' keys were found: per change (position in `changes.order`), chunk index (-1: none) and row. */
export interface KeyPositions {
  readonly chunk: Int32Array;
  readonly row: Int32Array;
}

/**
 * For each change (by position in `changes.order`), whether sorted chunks hold its key: `KeyState.Live`,
 * or `Tombstone` when the chunk's flag says so (delta chunks), else `Absent`. Loads only the chunks whose
 * [firstKey, lastKey] contains a change key, and of those only what `load` decodes (key columns, flag).
 * `at`, when given, receives where each found key is.
 */
export async function lookupKeys(
  chunks: readonly ChunkInfo[],
  keyTypes: readonly ColumnType[],
  changes: Changes,
  load: (chunk: number) => Promise<KeyRun>,
  concurrency: number,
  at?: KeyPositions,
): Promise<Uint8Array> {
  const found = new Uint8Array(changes.order.length);
  const ranges = assignChanges(chunks, keyTypes, changes);
  const todo = chunks.map((c, i) => i).filter((i) => {
    const [a, b] = ranges[i]!;
    if (a === b) return false;
    const first = keyFromJson(chunks[i]!.firstKey ?? [], keyTypes);
    const last = keyFromJson(chunks[i]!.lastKey ?? [], keyTypes);
    for (let y = a; y < b; y++) {
      const k = keyAt(changes.keys, changes.order[y]!);
      if (compareKeys(k, first) >= 0 && compareKeys(k, last) <= 0) return true;
    }
    return false;
  });
  await mapLimit(todo, concurrency, async (i) => {
    const run = await load(i);
    const [a, b] = ranges[i]!;
    let x = 0;
    for (let y = a; y < b; y++) {
      const r = changes.order[y]!;
      x = seekRow(run.keys, x, changes.keys, r);
      if (x < run.keys.length && compareRows(run.keys, x, changes.keys, r) === 0) {
        found[y] = run.deleted?.[x] ? KeyState.Tombstone : KeyState.Live;
        if (at) (at.chunk[y] = i), (at.row[y] = x);
      }
    }
  });
  return found;
}

/** What an edit does to a delta, from each changed key's state in the delta and in the base. */
export interface DeltaChange {
  /** Logical rows added (negative: removed). */
  rowChange: number;
  /** Delta rows and tombstones after the edit, given those before. */
  rows: number;
  deletes: number;
  /** Per change-table row: 1 when the delta must not hold the key afterwards (a delete of a key the base lacks). */
  removes: Uint8Array;
}

/**
 * The effect of an edit on the delta, as `planDelta` defines it, without reading the delta's rows:
 * DuplicateKeyError for an insert of an existing key (the first in key order).
 */
export function deltaChange(changes: Changes, inDelta: Uint8Array, inBase: Uint8Array, mode: Exclude<EditMode, 'merge'>, before: { rows: number; deletes: number }, table: string): DeltaChange {
  const out: DeltaChange = { rowChange: 0, rows: before.rows, deletes: before.deletes, removes: new Uint8Array(changes.keys.length) };
  for (let y = 0; y < changes.order.length; y++) {
    const st = inDelta[y]!;
    const existed = st === KeyState.Live || (st === KeyState.Absent && inBase[y] === 1);
    if (mode === 'insert' && existed) throw new DuplicateKeyError(table, jsonKey(keyAt(changes.keys, changes.order[y]!)));
    if (mode !== 'delete') {
      if (!existed) out.rowChange++;
      if (st === KeyState.Absent) out.rows++;
      if (st === KeyState.Tombstone) out.deletes--;
      continue;
    }
    if (existed) out.rowChange--;
    if (inBase[y] === 1) {
      // A tombstone replaces whatever the delta held.
      if (st === KeyState.Absent) out.rows++;
      if (st !== KeyState.Tombstone) out.deletes++;
    } else {
      // Not a base key: the delta drops it if it holds it, and gains no tombstone.
      if (st === KeyState.Live) out.rows--;
      out.removes[changes.order[y]!] = 1;
    }
  }
  return out;
}

/**
 * Column-level updates: per input row, its DELTA_UNCHANGED_COLUMN value (see `liveRows`). A row whose
 * key the base holds (`at`: the chunk and the row within `baseRows`' table of that chunk) gets '1' for
 * each of `columns` (non-key) equal to its base row's; null when none is. The masks are relative to the
 * base row, not to an older delta row of the key, which the new row replaces whole.
 */
export function unchangedMasks(input: Table, schema: ManifestSchema, columns: readonly string[], changes: Changes, at: KeyPositions, baseRows: ReadonlyMap<number, Table>): Array<string | null> {
  const out = new Array<string | null>(input.numRows).fill(null);
  const names = schema.fields.map((f) => f.name);
  const compared = names.map((n) => columns.includes(n));
  const mine = names.map((n) => input.getChild(n)!);
  // Per base chunk, one comparer per compared column (input cell r vs base cell row).
  const equal = new Map<number, Array<CellEquals | undefined>>();
  const chars: string[] = [];
  // Rows of one update mostly share a handful of masks: each distinct one is built once (by its bits).
  const bits = names.length <= 30 ? new Map<number, string>() : undefined;
  for (let y = 0; y < changes.order.length; y++) {
    const chunk = at.chunk[y]!;
    if (chunk < 0) continue;
    let eq = equal.get(chunk);
    if (!eq) {
      const theirs = baseRows.get(chunk)!;
      equal.set(chunk, (eq = names.map((n, c) => (compared[c] ? cellEquality(mine[c]!, theirs.getChild(n)!, identical) : undefined))));
    }
    const r = changes.order[y]!;
    const row = at.row[y]!;
    let mask = 0;
    for (let c = 0; c < names.length; c++) {
      const same = eq[c]?.(r, row) ?? false;
      chars[c] = same ? '1' : '0';
      if (same) mask |= 1 << c;
    }
    if (mask === 0) continue;
    if (!bits) out[r] = chars.join('');
    else {
      let text = bits.get(mask);
      if (text === undefined) bits.set(mask, (text = chars.join('')));
      out[r] = text;
    }
  }
  return out;
}

/**
 * Rows of an upsert that change nothing (1): the base holds the key, the delta does not (`inDelta`, per
 * change), and the mask keeps every non-key column. Writing them would only add delta rows equal to their
 * base rows, so an upsert of rows the table holds writes nothing for them. Undefined when there are none.
 */
export function noopRows(masks: ReadonlyArray<string | null>, schema: ManifestSchema, pk: readonly string[], changes: Changes, inDelta: Uint8Array): Uint8Array | undefined {
  const nonKey = schema.fields.flatMap((f, i) => (pk.includes(f.name) ? [] : [i]));
  let out: Uint8Array | undefined;
  for (let y = 0; y < changes.order.length; y++) {
    const r = changes.order[y]!;
    const mask = masks[r];
    if (!mask || inDelta[y] !== KeyState.Absent || !nonKey.every((i) => mask[i] === '1')) continue;
    (out ??= new Uint8Array(masks.length))[r] = 1;
  }
  return out;
}

/**
 * Rows (1) whose key the version holds (live in the delta, or in the base and not deleted by the delta):
 * for a table whose every column is key, an upsert of them changes nothing. Undefined when there are none.
 */
export function heldKeys(changes: Changes, inBase: Uint8Array, inDelta: Uint8Array): Uint8Array | undefined {
  let out: Uint8Array | undefined;
  for (let y = 0; y < changes.order.length; y++) {
    const held = inDelta[y] === KeyState.Live || (inDelta[y] === KeyState.Absent && inBase[y] === 1);
    if (held) (out ??= new Uint8Array(changes.keys.length))[changes.order[y]!] = 1;
  }
  return out;
}

/**
 * Whether a new value may be replaced by the base's: row equality, except that -0 and 0 differ (a row
 * diff calls them equal, but keeping the base's 0 would lose the sign the writer stored).
 */
function identical(a: unknown, b: unknown): boolean {
  return typeof a === 'number' && typeof b === 'number' ? Object.is(a, b) : sameValue(a, b);
}

/**
 * Whether an edit's updated rows keep enough base values to store them as masks, judged on a sample:
 * `kept` of its `cells` (sampled rows x non-key columns) equal their base values. A full-row rewrite
 * (random values that sometimes repeat, a low-cardinality column matching by chance) keeps few: its masks
 * would cost bytes and the compare time for nothing, so its rows are stored whole.
 */
export function keepsEnough(kept: number, cells: number): boolean {
  return cells > 0 && kept >= UNCHANGED_SHARE * cells;
}

/** Share of sampled non-key values that must equal the base's for an edit to use masks. */
export const UNCHANGED_SHARE = 0.25;

/** Updated rows sampled (the first in key order) to decide whether an edit's rows are compared with their base rows. */
export const UNCHANGED_SAMPLE = 64;

/**
 * Base chunks a sample may span. Sampling decodes every base chunk the sampled rows fall in, and a small
 * scattered edit has a key or two per chunk: 64 of its rows would decode as many chunks as the edit
 * touches (a 50-row upsert on 1M rows: ~14 chunks of 65K rows, ~25 of its ~45 ms) to learn that its
 * rows are stored whole anyway.
 */
export const UNCHANGED_SAMPLE_CHUNKS = 2;

/**
 * The sample of `found` (changes whose key the base holds, in key order; `chunkOf`: each change's base
 * chunk) that decides whether an edit's rows are compared with their base rows: its first rows, at most
 * UNCHANGED_SAMPLE of them, in at most UNCHANGED_SAMPLE_CHUNKS base chunks.
 */
export function unchangedSample(found: readonly number[], chunkOf: Int32Array): number[] {
  const out: number[] = [];
  let chunks = 0;
  let last = -1;
  for (const y of found) {
    const c = chunkOf[y]!;
    if (c !== last && ++chunks > UNCHANGED_SAMPLE_CHUNKS) break;
    last = c;
    out.push(y);
    if (out.length === UNCHANGED_SAMPLE) break;
  }
  return out;
}
