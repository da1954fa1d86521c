import { DuplicateKeyError } from '../errors.js';
import { Chunker, type ChunkingParams } from './chunker.js';
import type { Table } from 'apache-arrow';
import type { ManifestSchema } from './column-types.js';
import {
  compareKeys, compareRows, keyAt, keyFromJson, keyHash, jsonKey, keyVectors, sortOrder, strictlyAscending, type KeyValue, type KeyVectors,
} from './keys.js';
import type { ChunkInfo, ColumnType } from './table-format.js';
import type { ChunkSource } from './native-codec.js';

/**
 * How a keyed edit merges into the sorted table: `insert` rejects existing keys, `upsert` replaces
 * them, `delete` drops them (the changes' other columns are ignored; absent keys are no-ops), `merge`
 * folds a delta: rows flagged in `Changes.deleted` drop their key, the others replace or insert.
 */
export type EditMode = 'insert' | 'upsert' | 'delete' | 'merge';

/** The sorted, duplicate-free changes of one edit. */
export interface Changes {
  readonly keys: KeyVectors;
  /** Row indices of the change table in key order. */
  readonly order: ArrayLike<number>;
  /** `merge` mode: per change-table row, whether it is a tombstone. */
  readonly deleted?: ArrayLike<boolean | null>;
  /** `order` is the identity: the change table is already in key order. */
  readonly inOrder?: boolean;
}

export interface OldChunkRows {
  /** Parquet bytes, handed to the encoder as a row source. */
  readonly parquet: Uint8Array;
  readonly keys: KeyVectors;
}

/** The plan of an edit: which old chunks stay and which new ones the encoder must build. */
export interface RechunkPlan {
  /** Row sources: index 0 is the change table (as given by the caller), then old chunks' Parquet. */
  readonly sources: ChunkSource[];
  /** Flat (source, row) pairs of every new chunk's rows, in order. */
  readonly picks: PairBuilder;
  readonly cuts: number[];
  readonly firstKeys: KeyValue[][];
  readonly lastKeys: KeyValue[][];
  /** The new table as runs: `{ old: i }` keeps chunk i; `{ fresh: [a, b) }` are new chunks a..b-1. */
  readonly segments: Array<{ old: number } | { fresh: [number, number] }>;
  /** The new chunks are the change table's rows in their own order (`picks` stays empty). */
  sequential?: boolean;
}

/**
 * Merges sorted changes into a chunked, sorted table, re-chunking only around them: each run of
 * affected chunks is re-chunked from its first chunk's start (a boundary, where the chunker's state is
 * empty) until a new cut lands on an old chunk's end; all other chunks are kept as they are. The result
 * is exactly the chunking a full rewrite of the same rows would produce.
 */
export async function planRechunk(
  old: readonly ChunkInfo[],
  keyTypes: readonly ColumnType[],
  changes: Changes,
  mode: EditMode,
  params: ChunkingParams,
  changeSource: ChunkSource,
  load: (chunk: number) => Promise<OldChunkRows>,
  table: string,
): Promise<RechunkPlan> {
  const plan: RechunkPlan = { sources: [changeSource], picks: new PairBuilder(), cuts: [], firstKeys: [], lastKeys: [], segments: [] };
  const ranges = assignChanges(old, keyTypes, changes);
  const m = changes.order.length;
  if (old.length === 0) {
    if (m > 0 && mode !== 'delete') {
      const start = plan.cuts.length;
      if (changes.inOrder && !changes.deleted) {
        cutInOrder(plan, changes.keys, params);
      } else {
        const emit = emitter(plan, new Chunker(params));
        for (let y = 0; y < m; y++) if (!changes.deleted?.[changes.order[y]!]) emit(changes.keys, changes.order[y]!, 0);
        emit.finish();
      }
      plan.segments.push({ fresh: [start, plan.cuts.length] });
    }
    return plan;
  }
  let i = 0;
  while (i < old.length) {
    if (ranges[i]![0] === ranges[i]![1]) {
      plan.segments.push({ old: i });
      i++;
      continue;
    }
    const chunker = new Chunker(params);
    const emit = emitter(plan, chunker);
    const start = plan.cuts.length;
    let j = i;
    do {
      const rows = await load(j);
      const src = plan.sources.push(rows.parquet) - 1;
      mergeInto(rows.keys, src, changes, ranges[j]!, mode, emit, table);
      j++;
    } while (chunker.rowsPending > 0 && j < old.length);
    emit.finish();
    plan.segments.push({ fresh: [start, plan.cuts.length] });
    i = j;
  }
  return plan;
}

/**
 * A new table whose rows come in key order (the usual ingest): the same cuts the emitter would make, from
 * the key hashes alone, without a (source, row) pair per row (16 MB of pairs for 1M rows, then a pass to
 * find they are the identity).
 */
function cutInOrder(plan: RechunkPlan, keys: KeyVectors, params: ChunkingParams): void {
  const chunker = new Chunker(params);
  let first = 0;
  const close = (last: number): void => {
    plan.cuts.push(last + 1);
    plan.firstKeys.push(keyAt(keys, first));
    plan.lastKeys.push(keyAt(keys, last));
    first = last + 1;
  };
  for (let row = 0; row < keys.length; row++) if (chunker.push(keyHash(keys, row))) close(row);
  if (chunker.rowsPending > 0) close(keys.length - 1);
  plan.sequential = true;
}

type Emit = ((keys: KeyVectors, row: number, source: number) => void) & { finish(): void };

function emitter(plan: RechunkPlan, chunker: Chunker): Emit {
  let first: KeyValue[] | undefined;
  // The last row emitted, as two variables: an object per row was a million allocations per 1M-row write.
  let lastKeys: KeyVectors | undefined;
  let lastRow = 0;
  const emit = ((keys: KeyVectors, row: number, source: number) => {
    if (chunker.rowsPending === 0) first = keyAt(keys, row);
    plan.picks.push(source, row);
    lastKeys = keys;
    lastRow = row;
    if (chunker.push(keyHash(keys, row))) close();
  }) as Emit;
  const close = (): void => {
    plan.cuts.push(plan.picks.pairs);
    plan.firstKeys.push(first!);
    plan.lastKeys.push(keyAt(lastKeys!, lastRow));
  };
  // The end of the table is a boundary whatever the hashes say.
  emit.finish = () => {
    if (chunker.rowsPending > 0) close();
  };
  return emit;
}

/** For each old chunk, the range of `changes.order` whose keys fall in it (before the next chunk's first key). */
export function assignChanges(old: readonly ChunkInfo[], keyTypes: readonly ColumnType[], changes: Changes): Array<[number, number]> {
  const ranges: Array<[number, number]> = old.map(() => [0, 0]);
  if (old.length === 0) return ranges;
  const firsts = old.map((c) => keyFromJson(c.firstKey ?? [], keyTypes));
  let c = 0;
  let start = 0;
  const m = changes.order.length;
  for (let y = 0; y <= m; y++) {
    const key = y < m ? keyAt(changes.keys, changes.order[y]!) : undefined;
    // Move to the last chunk whose first key is <= key (keys below chunk 0's first key go to chunk 0).
    let next = c;
    if (key) while (next + 1 < old.length && compareKeys(firsts[next + 1]!, key) <= 0) next++;
    else next = old.length;
    if (next !== c) {
      ranges[c] = [start, y];
      start = y;
      c = next;
    }
  }
  return ranges;
}

function mergeInto(ok: KeyVectors, src: number, changes: Changes, [a, b]: [number, number], mode: EditMode, emit: Emit, table: string): void {
  let x = 0;
  let y = a;
  while (x < ok.length || y < b) {
    const r = y < b ? changes.order[y]! : -1;
    const cmp = x >= ok.length ? 1 : y >= b ? -1 : compareRows(ok, x, changes.keys, r);
    if (cmp < 0) {
      emit(ok, x++, src);
    } else if (cmp > 0) {
      if (mode !== 'delete' && !changes.deleted?.[r]) emit(changes.keys, r, 0);
      y++;
    } else {
      if (mode === 'insert') throw new DuplicateKeyError(table, jsonKey(keyAt(ok, x)));
      if (mode === 'upsert' || (mode === 'merge' && !changes.deleted?.[r])) emit(changes.keys, r, 0);
      x++;
      y++;
    }
  }
}

/** A growable flat array of (source, row) pairs: millions of rows without a JS array's GC cost. */
export class PairBuilder {
  private buf: Uint32Array;
  pairs = 0;

  /** `capacity`: pairs expected (grows past it by doubling). */
  constructor(capacity = 512) {
    this.buf = new Uint32Array(2 * Math.max(1, capacity));
  }

  push(source: number, row: number): void {
    if (2 * this.pairs + 2 > this.buf.length) this.grow(this.pairs + 1);
    this.buf[2 * this.pairs] = source;
    this.buf[2 * this.pairs + 1] = row;
    this.pairs++;
  }

  /** Pairs (source, from) .. (source, to - 1). */
  pushRun(source: number, from: number, to: number): void {
    if (to <= from) return;
    if (2 * (this.pairs + to - from) > this.buf.length) this.grow(this.pairs + to - from);
    const buf = this.buf;
    let at = 2 * this.pairs;
    for (let r = from; r < to; r++, at += 2) {
      buf[at] = source;
      buf[at + 1] = r;
    }
    this.pairs += to - from;
  }

  /** The pairs so far (a view, valid until the next push). */
  view(): Uint32Array {
    return this.buf.subarray(0, 2 * this.pairs);
  }

  private grow(pairs: number): void {
    const next = new Uint32Array(Math.max(2 * pairs, this.buf.length * 2));
    next.set(this.buf.subarray(0, 2 * this.pairs));
    this.buf = next;
  }
}

/** The changes' key columns and their key order; DuplicateKeyError when a key repeats. */
export function sortedChanges(input: Table, pk: readonly string[], schema: ManifestSchema, table: string): Changes {
  const keys = keyVectors(input, pk, schema);
  if (strictlyAscending(keys)) return { keys, order: identity(keys.length), inOrder: true };
  const order = sortOrder(keys) ?? identity(keys.length);
  for (let i = 1; i < order.length; i++) {
    if (compareRows(keys, order[i - 1]!, keys, order[i]!) === 0) throw new DuplicateKeyError(table, jsonKey(keyAt(keys, order[i]!)), 'repeated');
  }
  return { keys, order };
}

/** 0, 1, ..., n-1: the order of rows already sorted. */
export function identity(n: number): Uint32Array {
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/**
 * The encoder's job for a plan: drops sources no new row comes from (a delete's key table, chunks whose
 * rows were all deleted), and passes a plain slice instead of picks when the rows are one source in order.
 */
export function encoderJob(plan: RechunkPlan, inputRows: number): { sources: ChunkSource[]; picks: Uint32Array | null; cuts: Uint32Array } {
  if (plan.sequential) return { sources: [plan.sources[0]!], picks: null, cuts: Uint32Array.from(plan.cuts) };
  const picks = plan.picks.view();
  const used = new Map<number, number>();
  let sequential = true;
  let last = -1;
  for (let i = 0; i < picks.length; i += 2) {
    const s = picks[i]!;
    if (s !== last) {
      if (!used.has(s)) used.set(s, used.size);
      last = s;
    }
    if (sequential && (s !== 0 || picks[i + 1] !== i / 2)) sequential = false;
  }
  const sources = [...used.keys()].map((s) => plan.sources[s]!);
  const cuts = Uint32Array.from(plan.cuts);
  if (sequential && picks.length / 2 === inputRows) return { sources, picks: null, cuts };
  const out = new Uint32Array(picks.length);
  for (let i = 0; i < picks.length; i += 2) {
    out[i] = used.get(picks[i]!)!;
    out[i + 1] = picks[i + 1]!;
  }
  return { sources, picks: out, cuts };
}
