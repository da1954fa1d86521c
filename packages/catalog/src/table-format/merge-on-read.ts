import { mapLimit } from '@armillaria/core';
import type { Hash } from '@armillaria/core';
import { tableFromIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { deltaSchema, keyMembership, keyRun, materialiseIpc, overlayPicks, type KeyRun } from './delta.js';
import { compareKeys, keyAt, keyFromJson, keyTypesOf, keyVectors, type KeyValue } from './keys.js';
import type { ManifestReader } from './manifest-io.js';
import type { ParquetCodec } from './native-codec.js';
import { concatDecoded, pickColumns, type Columns } from './rows.js';
import { DELTA_DELETED_COLUMN, type ChunkInfo, type ColumnType, type Manifest } from './table-format.js';

/** What merge-on-read needs from the format: chunk decoding (Parquet -> Arrow IPC) and the codec. */
export interface ChunkDecoder {
  readonly codec: ParquetCodec;
  decode(hashes: readonly Hash[], columns?: readonly string[]): Promise<Uint8Array[]>;
  /** Per chunk, one decode per column set from a single fetch of its bytes (no second GET per set). */
  decodeEach(hashes: readonly Hash[], columnSets: ReadonlyArray<readonly string[]>): Promise<Uint8Array[][]>;
}

/** A delta's rows (table columns plus the tombstone flag) as one table and as a key run. */
export async function loadDelta(dec: ChunkDecoder, m: Manifest, list: readonly ChunkInfo[]): Promise<{ table: Table; run: KeyRun }> {
  const schema = deltaSchema(m.schema);
  const table = concatDecoded(schema, schema.fields.map((f) => f.name), await dec.decode(list.map((c) => c.hash)));
  const deleted = table.getChild(DELTA_DELETED_COLUMN)!.toArray() as ArrayLike<boolean | null>;
  return { table, run: { keys: keyVectors(table, m.primaryKey!, m.schema), deleted } };
}

/**
 * The logical rows of base chunks `base` (a subset of the version's, in table order) overlaid with the
 * whole delta: every delta row is applied, whatever chunk pruning kept, because a delta row replaces
 * its base row wherever its values moved. Base chunks no delta row touches are passed through as
 * decoded; only the stretches around delta rows are rebuilt.
 */
export async function readMerged(dec: ChunkDecoder, m: Manifest, base: readonly ChunkInfo[], delta: readonly ChunkInfo[], columns: readonly string[]): Promise<Table> {
  const pk = m.primaryKey!;
  // Key columns are read too (to merge by key) and dropped by the final projection.
  const need = m.schema.fields.map((f) => f.name).filter((n) => columns.includes(n) || pk.includes(n));
  // Delta chunks are decoded twice (the materialised sources must share the base's columns; the flag
  // comes separately) but fetched once.
  const [baseIpcs, deltaDecoded] = await Promise.all([
    dec.decode(base.map((c) => c.hash), need),
    dec.decodeEach(delta.map((c) => c.hash), [need, [DELTA_DELETED_COLUMN]]),
  ]);
  const deltaIpcs = deltaDecoded.map(([ipc]) => ipc!);
  const runs = baseIpcs.map((ipc) => keyRun(ipc, m.schema, pk));
  const picks = overlayPicks(runs, deltaDecoded.map(([ipc, flags]) => keyRun(ipc!, m.schema, pk, flags)));
  const sources = [...baseIpcs, ...deltaIpcs];
  const pieces: Uint8Array[] = [];
  let group: number[] = [];
  const flush = async (): Promise<void> => {
    if (group.length > 0) pieces.push(await materialiseIpc(dec.codec, sources, Uint32Array.from(group), columns));
    group = [];
  };
  for (let p = 0; p < picks.length;) {
    const s = picks[p]!;
    const n = s < runs.length ? runs[s]!.keys.length : 0;
    // A whole base chunk in order, nothing in between: no delta row touches it.
    let whole = n > 0 && picks[p + 1] === 0 && p + 2 * n <= picks.length;
    for (let r = 1; whole && r < n; r++) whole = picks[p + 2 * r] === s && picks[p + 2 * r + 1] === r;
    if (whole) {
      await flush();
      pieces.push(baseIpcs[s]!);
      p += 2 * n;
    } else {
      group.push(s, picks[p + 1]!);
      p += 2;
    }
  }
  await flush();
  return concatDecoded(m.schema, columns, pieces);
}

/**
 * The rows a row diff must compare when either version has a delta: on each side, the logical rows of
 * its differing base chunks and, from the base chunks both sides share, only the rows whose key is in
 * either delta (those chunks found by their first and last keys), overlaid with that side's delta. Every
 * other row lies in a shared chunk under no delta key, so it is equal on both sides.
 */
export async function diffSides(
  dec: ChunkDecoder,
  reader: ManifestReader,
  a: Manifest | null,
  b: Manifest | null,
  differing: { removed: readonly ChunkInfo[]; added: readonly ChunkInfo[] },
): Promise<[Columns | null, Columns | null]> {
  const [baseA, baseB, deltaA, deltaB] = await Promise.all([
    a ? reader.chunkList(a) : [], b ? reader.chunkList(b) : [],
    a?.delta ? loadDelta(dec, a, await reader.deltaList(a)) : null,
    b?.delta ? loadDelta(dec, b, await reader.deltaList(b)) : null,
  ]);
  const added = new Set(differing.added.map((c) => c.hash));
  const removed = new Set(differing.removed.map((c) => c.hash));
  const shared = baseB.filter((c) => !added.has(c.hash));
  const m = (b ?? a)!;
  const touched = sharedHolding(shared, keyTypesOf(m.schema, m.primaryKey!), [deltaA?.run, deltaB?.run]);
  const decoded = new Map<Hash, Promise<Uint8Array>>();
  const decodeOnce = (c: ChunkInfo): Promise<Uint8Array> => {
    let p = decoded.get(c.hash);
    if (!p) decoded.set(c.hash, (p = dec.decode([c.hash]).then((x) => x[0]!)));
    return p;
  };
  const side = async (man: Manifest | null, list: readonly ChunkInfo[], own: Set<Hash>, delta: { table: Table; run: KeyRun } | null): Promise<Columns | null> => {
    if (!man) return null;
    const names = man.schema.fields.map((f) => f.name);
    const chunks = list.filter((c) => own.has(c.hash) || touched.has(c.hash));
    const tables = (await mapLimit(chunks, 4, decodeOnce)).map((ipc) => tableFromIPC(ipc));
    const runs: KeyRun[] = tables.map((t) => ({ keys: keyVectors(t, man.primaryKey!, man.schema) }));
    const inDeltas = keyMembership([deltaA?.run, deltaB?.run].filter((r): r is KeyRun => r !== undefined));
    const keep = (run: number, row: number): boolean => own.has(chunks[run]!.hash) || inDeltas(runs[run]!.keys, row);
    // Only the picked rows are converted (shared chunks contribute just their delta keys' rows).
    return pickColumns(delta ? [...tables, delta.table] : tables, overlayPicks(runs, delta ? [delta.run] : [], keep), names);
  };
  return Promise.all([side(a, baseA, removed, deltaA), side(b, baseB, added, deltaB)]);
}

/** The chunks (sorted by key, disjoint) whose [firstKey, lastKey] holds a key of one of the runs. */
function sharedHolding(chunks: readonly ChunkInfo[], keyTypes: readonly ColumnType[], runs: ReadonlyArray<KeyRun | undefined>): Set<Hash> {
  const out = new Set<Hash>();
  if (chunks.length === 0) return out;
  const firsts = chunks.map((c) => keyFromJson(c.firstKey ?? [], keyTypes));
  const lasts = chunks.map((c) => keyFromJson(c.lastKey ?? [], keyTypes));
  for (const run of runs) {
    if (!run) continue;
    for (let i = 0; i < run.keys.length; i++) {
      const k: KeyValue[] = keyAt(run.keys, i);
      // The last chunk whose first key is <= k.
      let lo = 0;
      let hi = chunks.length - 1;
      if (compareKeys(firsts[0]!, k) > 0) continue;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (compareKeys(firsts[mid]!, k) <= 0) lo = mid;
        else hi = mid - 1;
      }
      if (compareKeys(k, lasts[lo]!) <= 0) out.add(chunks[lo]!.hash);
    }
  }
  return out;
}
