import { Bool, Table, tableFromIPC, vectorFromArray } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { arrowType, type ManifestSchema } from './column-types.js';
import { compareRows, keyVectors, type KeyVectors } from './keys.js';
import type { ParquetCodec } from './native-codec.js';
import { PairBuilder } from './rechunk.js';
import { concatDecoded } from './rows.js';
import { DELTA_DELETED_COLUMN } from './table-format.js';

/**
 * The rows of a keyed table's delta (merge-on-read, see FORMAT.md): the table's columns plus a boolean
 * tombstone flag, one row per changed key, sorted by key.
 */
export function deltaSchema(schema: ManifestSchema): ManifestSchema {
  // Nullable throughout: tombstones hold null in every non-key column, whatever the table declares.
  return { fields: [...schema.fields.map((f) => ({ ...f, nullable: true })), { name: DELTA_DELETED_COLUMN, type: 'bool', nullable: true }] };
}

/**
 * Whether a schema is a delta's (ends with the reserved tombstone flag, which no table column may be
 * named): its chunks are encoded with the `delta` layout, base chunks with `base`.
 */
export function isDeltaSchema(schema: ManifestSchema): boolean {
  return schema.fields.at(-1)?.name === DELTA_DELETED_COLUMN;
}

/** Rows of an insert or upsert (columns in schema order) as live delta rows. */
export function liveRows(input: Table, schema: ManifestSchema): Table {
  const cols: Record<string, Vector> = {};
  for (const f of schema.fields) cols[f.name] = input.getChild(f.name)!;
  cols[DELTA_DELETED_COLUMN] = vectorFromArray(new Array<boolean>(input.numRows).fill(false), new Bool());
  return new Table(cols);
}

/** Tombstones for the keys of `keys`: key columns set, every other column null, the flag true. */
export function tombstoneRows(keys: Table, schema: ManifestSchema, primaryKey: readonly string[]): Table {
  const cols: Record<string, Vector> = {};
  for (const f of schema.fields) {
    cols[f.name] = primaryKey.includes(f.name) ? keys.getChild(f.name)! : vectorFromArray(new Array(keys.numRows).fill(null), arrowType(f.type));
  }
  cols[DELTA_DELETED_COLUMN] = vectorFromArray(new Array<boolean>(keys.numRows).fill(true), new Bool());
  return new Table(cols);
}

/** A sorted run of rows by key (one decoded chunk), with tombstone flags for delta runs. */
export interface KeyRun {
  readonly keys: KeyVectors;
  readonly deleted?: ArrayLike<boolean | null>;
}

/** Decoded IPC of a chunk as a key run (`flags`: decoded delta flag column of the same chunk). */
export function keyRun(ipc: Uint8Array, schema: ManifestSchema, primaryKey: readonly string[], flags?: Uint8Array): KeyRun {
  const keys = keyVectors(tableFromIPC(ipc), primaryKey, schema);
  if (!flags) return { keys };
  return { keys, deleted: tableFromIPC(flags).getChild(DELTA_DELETED_COLUMN)!.toArray() as ArrayLike<boolean | null> };
}

/**
 * The logical rows of sorted base runs (sources 0..base.length-1) overlaid with sorted delta runs
 * (sources base.length..): a delta row replaces the base row with its key or adds one; a tombstone
 * removes the base row and is itself dropped. Flat (source, row) pairs in key order.
 */
export function overlayPicks(base: readonly KeyRun[], delta: readonly KeyRun[]): Uint32Array {
  const out = new PairBuilder();
  let bi = 0;
  let bx = 0;
  let di = 0;
  let dx = 0;
  const nextBase = (): void => {
    while (bi < base.length && bx >= base[bi]!.keys.length) (bi++, (bx = 0));
  };
  const nextDelta = (): void => {
    while (di < delta.length && dx >= delta[di]!.keys.length) (di++, (dx = 0));
  };
  nextBase();
  nextDelta();
  while (bi < base.length || di < delta.length) {
    const c = bi >= base.length ? 1 : di >= delta.length ? -1 : compareRows(base[bi]!.keys, bx, delta[di]!.keys, dx);
    if (c < 0) {
      out.push(bi, bx);
      bx++;
    } else {
      if (!delta[di]!.deleted?.[dx]) out.push(base.length + di, dx);
      dx++;
      if (c === 0) bx++;
    }
    nextBase();
    nextDelta();
  }
  return out.view().slice();
}

/** Builds the picked rows of IPC sources (same columns) into one Arrow table, through the codec. */
export async function materialise(codec: ParquetCodec, sources: readonly Uint8Array[], picks: Uint32Array, schema: ManifestSchema, columns: readonly string[]): Promise<Table> {
  return concatDecoded(schema, columns, picks.length === 0 ? [] : [await materialiseIpc(codec, sources, picks, columns)]);
}

/** The picked rows as one Arrow IPC stream of `columns`; only the sources picks use are loaded. */
export async function materialiseIpc(codec: ParquetCodec, sources: readonly Uint8Array[], picks: Uint32Array, columns: readonly string[]): Promise<Uint8Array> {
  const used = new Map<number, number>();
  const remapped = new Uint32Array(picks.length);
  for (let i = 0; i < picks.length; i += 2) {
    let s = used.get(picks[i]!);
    if (s === undefined) used.set(picks[i]!, (s = used.size));
    remapped[i] = s;
    remapped[i + 1] = picks[i + 1]!;
  }
  return codec.interleave([...used.keys()].map((s) => sources[s]!), remapped, columns);
}
