import { assertHash, InvalidArgumentError, mapLimit } from '@armillaria/core';
import type { Hash } from '@armillaria/core';
import { loadHasher } from '@armillaria/chunk-store';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { Table, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { CorruptMetadataError, PrimaryKeyRequiredError, SchemaMismatchError } from '../errors.js';
import { chunkingParams, fixedCuts, type ChunkingParams } from './chunker.js';
import { deltaFlags, deltaSchema, deltaWinners, hasPartialRows, isDeltaSchema, liveRows, materialise, materialiseOverlay, orphanPartialRow, splitRuns, tombstoneRows, type KeyRun, type Patches } from './delta.js';
import { deltaChange, heldKeys, keepsEnough, KeyState, lookupKeys, noopRows, planDelta, unchangedMasks, unchangedSample, type KeyPositions } from './delta-edit.js';
import { fillPicks, givenSource, nullRow, partialRows, rowsToFill, type PartialRows, type StoredRows } from './kept-cells.js';
import { diffSides, loadDelta, readMerged, type ChunkDecoder } from './merge-on-read.js';
import { chunkSource } from './columns-source.js';
import { DeferredWrites, noTally, storeBlobs, sumTallies, type Tally } from './chunk-sink.js';
import { arrowType, columnStats, conform, isColumnType, nullVector, schemaOf, type ManifestSchema } from './column-types.js';
import { gatherKeys, jsonKey, keyAt, keyTypesOf, keyVectors, validateKey, type KeyVectors } from './keys.js';
import { ManifestReader, writeManifest, type DeltaRunWrite, type DeltaWrite } from './manifest-io.js';
import { nativeCodec, type ChunkSource, type EncodeOptions, type ParquetCodec } from './native-codec.js';
import { chunkMayMatch } from './prune.js';
import { KeyRunCache } from './key-run-cache.js';
import { assignChanges, encoderJob, identity, planRechunk, sortedChanges, type Changes, type EditMode, type RechunkPlan } from './rechunk.js';
import { chunkDiff, rowDiff } from './diff.js';
import { diffPicked, materialisePicked, type PickedRows } from './picked-diff.js';
import { concatDecoded } from './rows.js';
import { DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN } from './table-format.js';
import type {
  ChunkDiff, ChunkInfo, ColumnType, Manifest, ReadOptions, RowDiff, TableFormat, TableLayout, UpsertOptions, WriteResult,
} from './table-format.js';

export interface ParquetTableFormatOptions {
  chunks: ChunkStore;
  /** BLAKE3 for deciding which chunks are new (default: `loadHasher()`). */
  hasher?: Hasher;
  /**
   * Average rows per chunk of keyed tables (content-defined, min target/4, max target*4) and rows per
   * chunk of unkeyed ones, for tables this instance creates. Default 65,536. A table records its target
   * in its manifest and every later edit uses that, so boundaries stay put.
   */
  targetChunkRows?: number;
  /** Parquet compression (default zstd level 1). Part of the chunk bytes: keep it fixed per deployment. */
  compression?: EncodeOptions['compression'];
  /** Chunks fetched and decoded at once (default 4). */
  readConcurrency?: number;
  /** The Parquet codec (default: the native addon). */
  codec?: ParquetCodec;
  /**
   * Merge-on-read for keyed tables of at least two chunks: upserts, deletes and inserts go to the
   * table's delta (only the changed rows are written; base chunks keep their hashes) while the delta
   * holds at most this fraction of the base rows; past it the delta is folded into the base (prolly
   * re-chunking). Default 0.2; 0 turns deltas off (every edit rewrites base chunks). Like compression,
   * part of the resulting hashes: keep it fixed per deployment.
   */
  deltaMaxFraction?: number;
  /**
   * Sorted runs a keyed table's delta may have (default 8, `MAX_DELTA_RUNS`). An edit's rows go to a new
   * run, merged with the newest runs while those hold at most twice its rows, so a stream of small
   * scattered edits writes each changed row O(log(delta / edit)) times; readers merge every run. 1 keeps
   * one run, as before runs existed: every edit then rewrites the delta chunks its keys fall in, for
   * scattered keys the whole delta (400 upserts of 50 random keys on 1M rows wrote 60 MiB, the late
   * ones 280 KiB each). Part of the resulting hashes, like `deltaMaxFraction`.
   */
  maxDeltaRuns?: number;
  /**
   * Bytes of decoded key columns kept between keyed edits (see KeyRunCache), so scattered upserts do
   * not read and decode every base chunk's keys again each time. Default 64 MiB (8 MiB holds the int64
   * keys of 1M rows); 0 turns the cache off.
   */
  keyCacheBytes?: number;
}

/**
 * The table format: deterministic Parquet chunks (prolly-tree chunked when keyed) and canonical-JSON
 * manifests, paged as a Merkle tree past 256 chunks. See `TableFormat` for the contract.
 */
export class ParquetTableFormat implements TableFormat {
  private readonly store: ChunkStore;
  private readonly params: ChunkingParams;
  private readonly codec: ParquetCodec;
  private readonly encode: EncodeOptions;
  private readonly concurrency: number;
  private readonly reader: ManifestReader;
  private readonly deltaMaxFraction: number;
  private readonly maxDeltaRuns: number;
  private readonly dec: ChunkDecoder;
  private readonly keyRuns: KeyRunCache;
  /** Set on views from `deferringWrites` only. */
  private writes: DeferredWrites | undefined;
  private hasherP: Promise<Hasher> | undefined;

  constructor(opts: ParquetTableFormatOptions) {
    this.store = opts.chunks;
    this.params = chunkingParams(opts.targetChunkRows);
    this.codec = opts.codec ?? nativeCodec;
    this.encode = { compression: opts.compression ?? 'zstd' };
    this.concurrency = opts.readConcurrency ?? 4;
    this.reader = new ManifestReader(this.store);
    const fraction = opts.deltaMaxFraction ?? 0.2;
    if (!(fraction >= 0 && fraction <= 1)) throw new InvalidArgumentError(`deltaMaxFraction must be in [0, 1], got ${fraction}`, { details: { deltaMaxFraction: fraction } });
    this.deltaMaxFraction = fraction;
    const maxRuns = opts.maxDeltaRuns ?? MAX_DELTA_RUNS;
    if (!(Number.isSafeInteger(maxRuns) && maxRuns >= 1)) throw new InvalidArgumentError(`maxDeltaRuns must be an integer >= 1, got ${maxRuns}`, { details: { maxDeltaRuns: maxRuns } });
    this.maxDeltaRuns = maxRuns;
    const keyCacheBytes = opts.keyCacheBytes ?? 64 * 2 ** 20;
    if (!(Number.isSafeInteger(keyCacheBytes) && keyCacheBytes >= 0)) {
      throw new InvalidArgumentError(`keyCacheBytes must be a byte count >= 0, got ${keyCacheBytes}`, { details: { keyCacheBytes } });
    }
    this.keyRuns = new KeyRunCache(keyCacheBytes);
    this.dec = {
      codec: this.codec,
      decode: (hashes, columns) => this.decodeChunks(hashes, columns),
      decodeEach: (hashes, sets) => mapLimit(hashes, this.concurrency, async (h) => {
        const parquet = await this.store.get(h);
        return Promise.all(sets.map((columns) => this.codec.decode(parquet, columns)));
      }),
      concurrency: this.concurrency,
      fetch: (hash) => this.store.get(hash),
      keys: async (m, chunk, fetched) => (await this.keyRun(m, chunk, false, fetched)).keys,
      deltaKeys: (m, chunk) => this.keyRun(m, chunk, true),
      decodeRows: async (hash, rows) => this.codec.decode(await this.store.get(hash), undefined, rows),
    };
    if (opts.hasher) this.hasherP = Promise.resolve(opts.hasher);
  }

  private hasher(): Promise<Hasher> {
    this.hasherP ??= loadHasher();
    return this.hasherP;
  }

  // Every operation that writes starts its blob writes side by side (see DeferredWrites) and, called on
  // the format itself, returns once all of them are stored. On a view from `deferringWrites` it returns
  // as soon as they are started: the view's owner settles them.
  /**
   * `previous` is only validated: chunks the new version shares with it (or with anything else in the
   * store) are reused because they are content-addressed, and reported in `chunksReused`.
   */
  write(rows: Table, opts: { primaryKey?: readonly string[]; previous?: Hash } = {}): Promise<WriteResult> {
    return this.op((f) => f.writeOp(rows, opts));
  }

  append(previous: Hash, rows: Table): Promise<WriteResult> {
    return this.op((f) => f.appendOp(previous, rows));
  }

  upsert(previous: Hash, rows: Table, opts: UpsertOptions = {}): Promise<WriteResult> {
    return this.op((f) => f.upsertOp(previous, rows, opts));
  }

  deleteKeys(previous: Hash, keys: Table): Promise<WriteResult> {
    return this.op((f) => f.deleteKeysOp(previous, keys));
  }

  addColumn(previous: Hash, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<WriteResult> {
    return this.op((f) => f.addColumnOp(previous, column));
  }

  compact(manifest: Hash): Promise<WriteResult> {
    return this.op((f) => f.compactOp(manifest));
  }

  /**
   * A view of this format (same caches and settings) whose write operations start their blob writes in
   * `writes` and return without waiting for them: the caller must `writes.settle()` before anything
   * names the versions they return. The catalog uses it to write a change's table blobs, tree and
   * commit in one round.
   */
  deferringWrites(writes: DeferredWrites): ParquetTableFormat {
    const view = Object.create(this) as ParquetTableFormat;
    view.writes = writes;
    return view;
  }

  private op<T>(fn: (format: this) => Promise<T>): Promise<T> {
    if (this.writes) return fn(this);
    return DeferredWrites.around((writes) => fn(this.deferringWrites(writes) as this));
  }

  private async writeOp(rows: Table, opts: { primaryKey?: readonly string[]; previous?: Hash } = {}): Promise<WriteResult> {
    if (opts.previous !== undefined) assertHash(opts.previous);
    const schema = schemaOf(rows);
    assertNotReserved(schema.fields.map((f) => f.name));
    const input = conform(rows, schema);
    if (opts.primaryKey) {
      validateKey(schema, opts.primaryKey);
      const base = { schema, primaryKey: [...opts.primaryKey], targetChunkRows: this.params.targetRows };
      const changes = sortedChanges(input, base.primaryKey, schema, 'new table');
      return this.finish(base, await this.rechunk(base, [], changes, input, input.numRows, 'insert', 'new table'));
    }
    const source = chunkSource(input);
    const fresh = input.numRows === 0 ? { list: [], tally: noTally() } : await this.encodeChunks({ schema }, { sources: [source], picks: null, cuts: fixedCuts(input.numRows, this.params.targetRows) });
    return this.finish({ schema, targetChunkRows: this.params.targetRows }, fresh);
  }

  private async appendOp(previous: Hash, rows: Table): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    const input = conform(rows, m.schema);
    if (m.primaryKey) return this.keyedEdit(m, input, 'insert', previous);
    const old = await this.reader.chunkList(m);
    if (input.numRows === 0) return this.finish(m, { list: old, tally: noTally() });
    const fresh = await this.encodeChunks(m, { sources: [chunkSource(input)], picks: null, cuts: fixedCuts(input.numRows, this.paramsOf(m).targetRows) });
    return this.finish(m, { ...fresh, list: [...old, ...fresh.list] });
  }

  private async upsertOp(previous: Hash, rows: Table, opts: UpsertOptions): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!m.primaryKey) throw new PrimaryKeyRequiredError(previous, 'upsert');
    const partial = partialRows(rows, m.schema, m.primaryKey, opts.kept);
    if (partial.fill.length === 0) return this.keyedEdit(m, conform(rows, m.schema), 'upsert', previous);
    const completed = await this.withStoredValues(m, partial, previous);
    return this.keyedEdit(m, conform(completed.rows, m.schema), 'upsert', previous, completed.baseRows);
  }

  /**
   * A partial upsert's rows completed with the values their keys hold in version `m` (see kept-cells.ts):
   * finds the keys in the base and delta chunks (key columns, cached), decodes only the stored rows of
   * those keys, and takes every cell from them or from the given rows in one native interleave. Also
   * returns the base rows decoded, which the edit compares the completed rows with (`unchangedOf`).
   */
  private async withStoredValues(m: Manifest, p: PartialRows, table: string): Promise<{ rows: Table; baseRows: DecodedRows }> {
    const pk = m.primaryKey!;
    const names = m.schema.fields.map((f) => f.name);
    const changes = sortedChanges(p.given, pk, m.schema, table);
    const keyTypes = keyTypesOf(m.schema, pk);
    const [base, runs] = await Promise.all([this.reader.chunkList(m), this.reader.deltaRuns(m)]);
    const deltaList = runs.flat();
    const positions = (): KeyPositions => ({ chunk: new Int32Array(changes.order.length).fill(-1), row: new Int32Array(changes.order.length) });
    const atBase = positions();
    const atDelta = positions();
    const fetched = new Map<number, Uint8Array>();
    const fetchedDelta = new Map<number, Uint8Array>();
    const [, { newest: deltaState }] = await Promise.all([
      lookupKeys(base, keyTypes, changes, (i) => this.keyRun(m, base[i]!, false, (b) => void fetched.set(i, b)), this.concurrency, atBase),
      this.lookupRuns(m, runs, keyTypes, changes, atDelta, (i) => (b) => void fetchedDelta.set(i, b)),
    ]);
    // Every base row of a changed key, all columns: the fill takes kept values from them, and the edit
    // compares the completed rows with them, so they are decoded once.
    const ys = rowsToFill(p, changes);
    const live = ys.filter((y) => deltaState[y] === KeyState.Live);
    const inBase: number[] = [];
    for (let y = 0; y < changes.order.length; y++) if (atBase.chunk[y]! >= 0) inBase.push(y);
    const [b, d, masks] = await Promise.all([
      this.decodeFound(base, atBase, fetched, inBase, names),
      this.decodeFound(deltaList, atDelta, fetchedDelta, live, names),
      hasPartialRows(m) ? this.decodeFound(deltaList, atDelta, fetchedDelta, live, [DELTA_UNCHANGED_COLUMN]) : undefined,
    ]);
    // Sources: the given rows, then the base rows found per chunk, then the live delta rows per chunk.
    const sources = [tableToIPC(givenSource(p, m.schema), 'stream')];
    const sourceOf = (ipcs: ReadonlyMap<number, Uint8Array>): Map<number, number> => new Map([...ipcs].map(([chunk, ipc]) => [chunk, sources.push(ipc) - 1]));
    const baseSources = sourceOf(b.ipcs);
    const deltaSources = sourceOf(d.ipcs);
    const maskTables = masks ? tablesOf(masks.ipcs) : undefined;
    const n = changes.order.length;
    const stored: StoredRows = {
      nullSource: sources.push(tableToIPC(nullRow(m.schema), 'stream')) - 1,
      baseSource: new Int32Array(n).fill(-1), baseRow: b.at.row,
      deltaSource: new Int32Array(n).fill(-1), deltaRow: d.at.row, deltaMask: new Array<string | null>(n).fill(null),
    };
    for (let y = 0; y < n; y++) {
      // A key the delta deleted is new: its base row is not its value.
      if (b.at.chunk[y]! >= 0 && deltaState[y] !== KeyState.Tombstone) stored.baseSource[y] = baseSources.get(b.at.chunk[y]!)!;
      const dc = d.at.chunk[y]!;
      if (dc < 0) continue;
      stored.deltaSource[y] = deltaSources.get(dc)!;
      if (maskTables) (stored.deltaMask as Array<string | null>)[y] = maskTables.get(dc)!.getChild(DELTA_UNCHANGED_COLUMN)!.get(d.at.row[y]!) as string | null;
    }
    const picks = fillPicks(p, m.schema, changes, stored);
    const rows = tableFromIPC(await this.codec.interleave(sources, picks.main, names, { picks: picks.groups, of: picks.of }));
    return { rows, baseRows: b };
  }

  private async deleteKeysOp(previous: Hash, keys: Table): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!m.primaryKey) throw new PrimaryKeyRequiredError(previous, 'deleteKeys');
    return this.keyedEdit(m, conform(keys, m.schema, m.primaryKey), 'delete', previous);
  }

  private async addColumnOp(previous: Hash, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!isColumnType(column.type)) throw new SchemaMismatchError(`unknown column type ${JSON.stringify(column.type)}`, { type: String(column.type) });
    if (typeof column.name !== 'string' || column.name === '' || m.schema.fields.some((f) => f.name === column.name)) {
      throw new SchemaMismatchError(`column ${JSON.stringify(column.name)} is empty or exists already`, { column: String(column.name) });
    }
    assertNotReserved([column.name]);
    const schema: ManifestSchema = { fields: [...m.schema.fields, { name: column.name, type: column.type, nullable: true }] };
    // Every chunk is rewritten anyway: fold the delta first, so the result has none.
    const folded = m.delta ? await this.fold(m, previous) : undefined;
    if (folded) await this.writes?.settle(); // its chunks are read back below
    const old = folded?.list ?? (await this.reader.chunkList(m));
    const names = m.schema.fields.map((f) => f.name);
    // Each chunk keeps its rows (and so its key range and boundaries); only its bytes change.
    const rewritten = await mapLimit(old, 2, async (c) => {
      const t = tableFromIPC(await this.codec.decode(await this.store.get(c.hash)));
      const cols: Record<string, Vector> = {};
      for (const n of names) cols[n] = t.getChild(n)!;
      cols[column.name] = fillVector(column.type, column.defaultValue, t.numRows);
      const enc = await this.encodeChunks({ ...m, schema }, { sources: [chunkSource(new Table(cols))], picks: null, cuts: Uint32Array.of(t.numRows) });
      const info = enc.list[0]!;
      return { ...enc, list: [{ ...info, ...(c.firstKey ? { firstKey: c.firstKey, lastKey: c.lastKey } : {}) }] };
    });
    const tally = sumTallies([...(folded ? [folded.tally] : []), ...rewritten.map((r) => r.tally)]);
    return this.finish({ ...m, schema }, { list: rewritten.flatMap((r) => r.list), tally });
  }

  async readManifest(manifest: Hash): Promise<Manifest> {
    assertHash(manifest);
    return this.reader.manifest(manifest);
  }

  async chunks(manifest: Hash): Promise<ChunkInfo[]> {
    const m = await this.readManifest(manifest);
    const [base, delta] = await Promise.all([this.reader.chunkList(m), this.reader.deltaList(m)]);
    return delta.length > 0 ? [...base, ...delta] : base;
  }

  async layout(manifest: Hash): Promise<TableLayout> {
    const m = await this.readManifest(manifest);
    const out: TableLayout = { base: await this.reader.chunkList(m) };
    if (m.primaryKey) out.keyColumns = [...m.primaryKey];
    if (m.delta) {
      const runs = await this.reader.deltaRuns(m);
      out.delta = { chunks: runs.flat(), deletedColumn: DELTA_DELETED_COLUMN, rows: m.delta.rows, deletes: m.delta.deletes };
      if (runs.length > 1) {
        let at = 0;
        out.delta.runStarts = runs.map((r) => (at += r.length) - r.length);
      }
      if (hasPartialRows(m)) out.delta.unchangedColumn = DELTA_UNCHANGED_COLUMN;
    }
    return out;
  }

  private async compactOp(manifest: Hash): Promise<WriteResult> {
    const m = await this.readManifest(manifest);
    if (m.delta) return this.finish(m, await this.fold(m, manifest));
    const list = await this.reader.chunkList(m);
    const merged = m.primaryKey ? undefined : await this.mergeSmallChunks(m, list);
    if (merged) return this.finish(m, merged);
    return { manifest, rows: m.rows, chunksWritten: 0, chunksReused: list.length, bytesWritten: 0 };
  }

  async read(manifest: Hash, opts: ReadOptions = {}): Promise<Table> {
    const m = await this.readManifest(manifest);
    const columns = opts.columns ? [...opts.columns] : m.schema.fields.map((f) => f.name);
    for (const c of columns) {
      if (!m.schema.fields.some((f) => f.name === c)) throw new SchemaMismatchError(`no column ${JSON.stringify(c)} in the table`, { column: c });
    }
    const all = await this.reader.chunkList(m);
    let list = all;
    if (opts.range) {
      const field = m.schema.fields.find((f) => f.name === opts.range!.column);
      if (!field) throw new SchemaMismatchError(`no column ${JSON.stringify(opts.range.column)} to prune on`, { column: opts.range.column });
      list = list.filter((c) => chunkMayMatch(field.type, c.stats[field.name], opts.range!));
    }
    if (m.delta) return readMerged(this.dec, m, list, await this.reader.deltaRuns(m), columns, all);
    const ipcs = await this.decodeChunks(list.map((c) => c.hash), opts.columns ? columns : undefined);
    return concatDecoded(m.schema, columns, ipcs);
  }

  async diffChunks(from: Hash | null, to: Hash | null): Promise<ChunkDiff> {
    const [a, b] = await Promise.all([from === null ? null : this.readManifest(from), to === null ? null : this.readManifest(to)]);
    return chunkDiff(this.reader, a, b);
  }

  async diffRows(from: Hash | null, to: Hash | null, opts: { keyColumns?: readonly string[] } = {}): Promise<RowDiff> {
    const [a, b] = await Promise.all([from === null ? null : this.readManifest(from), to === null ? null : this.readManifest(to)]);
    const d = await chunkDiff(this.reader, a, b, false);
    const keyColumns = opts.keyColumns ? [...opts.keyColumns] : (b ?? a)?.primaryKey ?? [];
    for (const k of keyColumns) {
      if (!(b ?? a)!.schema.fields.some((f) => f.name === k)) throw new SchemaMismatchError(`no key column ${JSON.stringify(k)} in the table`, { column: k });
    }
    // Rows of chunks in table order are sorted by the primary key: a merge join pairs them.
    const byPk = (m: Manifest | null): boolean => m === null || (m.primaryKey?.length === keyColumns.length && m.primaryKey.every((k, i) => k === keyColumns[i]));
    const sorted = keyColumns.length > 0 && byPk(a) && byPk(b);
    // Each differing chunk decoded as a table of its own (a single batch, which cellEquality compares on
    // its buffers), its rows in table order.
    const decode = async (m: Manifest | null, list: ChunkInfo[]): Promise<PickedRows | null> => {
      if (!m || list.length === 0) return null;
      const tables = (await this.decodeChunks(list.map((c) => c.hash))).map((ipc) => tableFromIPC(ipc));
      const picks = new Uint32Array(2 * tables.reduce((n, t) => n + t.numRows, 0));
      let at = 0;
      tables.forEach((t, k) => {
        for (let r = 0; r < t.numRows; r++, at++) (picks[2 * at] = k), (picks[2 * at + 1] = r);
      });
      const keys = sorted ? tables.map((t) => keyVectors(t, m.primaryKey!, m.schema)) : [];
      return { names: m.schema.fields.map((f) => f.name), tables, keys, picks };
    };
    const [removed, added] = a?.delta || b?.delta ? await diffSides(this.dec, this.reader, a, b, d) : await Promise.all([decode(a, d.removed), decode(b, d.added)]);
    if (sorted) return diffPicked(keyColumns, removed, added);
    return rowDiff(keyColumns, removed && materialisePicked(removed), added && materialisePicked(added));
  }

  // --- internals -------------------------------------------------------------------------------

  private decodeChunks(hashes: readonly Hash[], columns?: readonly string[]): Promise<Uint8Array[]> {
    return mapLimit(hashes, this.concurrency, async (h) => this.codec.decode(await this.store.get(h), columns));
  }

  /**
   * A keyed append, upsert or delete. Small changes to a table of two or more chunks go to its delta
   * (merge-on-read: only changed rows are written); a large change without a delta, or a delta past
   * `deltaMaxFraction` of the base, is merged into the base chunks, re-chunking only around the changes.
   * `previous`: the edited version (`m`'s hash), which errors name until the catalog names the table.
   */
  private async keyedEdit(m: Manifest, input: Table, mode: Exclude<EditMode, 'merge'>, previous: Hash, decodedBase?: DecodedRows): Promise<WriteResult> {
    const pk = m.primaryKey!;
    const base = await this.reader.chunkList(m);
    const changes = sortedChanges(input, pk, m.schema, previous);
    const limit = this.deltaLimit(base);
    if (!m.delta && (input.numRows > limit || this.clustered(m, base, changes, input.numRows))) {
      return this.finish(m, await this.rechunk(m, base, changes, mode === 'delete' ? null : input, input.numRows, mode, previous));
    }
    const keyTypes = keyTypesOf(m.schema, pk);
    const runs = await this.reader.deltaRuns(m);
    const chunkCount = base.length + runs.reduce((n, r) => n + r.length, 0);
    // A new delta may keep base values (column-level updates, formatVersion 3); an older delta keeps its
    // whole-row layout until it is folded.
    const partial = m.delta ? hasPartialRows(m) : true;
    const at: KeyPositions = { chunk: new Int32Array(changes.order.length).fill(-1), row: new Int32Array(changes.order.length) };
    // The bytes of base chunks read for keys, kept for the row decode below (one GET per chunk).
    const fetched = new Map<number, Uint8Array>();
    const keep = partial && mode !== 'delete' ? (i: number) => (bytes: Uint8Array) => void fetched.set(i, bytes) : () => undefined;
    const [inBase, inRuns] = await Promise.all([
      lookupKeys(base, keyTypes, changes, (i) => this.keyRun(m, base[i]!, false, keep(i)), this.concurrency, at),
      this.lookupRuns(m, runs, keyTypes, changes),
    ]);
    const inDelta = inRuns.newest;
    // Every column is key (a set of pairs, say): an upsert of a key the version holds changes nothing.
    const held = mode === 'upsert' && m.schema.fields.length === pk.length ? heldKeys(changes, inBase, inDelta) : undefined;
    if (held) return this.withoutRows(m, input, held, mode, previous, chunkCount);
    // With several runs, `effect.rows` counts a key once per run holding it: an upper bound of the delta's keys.
    const effect = deltaChange(changes, inDelta, inBase, mode, { rows: m.delta?.rows ?? 0, deletes: m.delta?.deletes ?? 0 }, previous);
    const rows = m.rows + effect.rowChange;
    if (effect.rows === 0) return this.finish(m, { list: base, tally: noTally() });
    if (effect.rows <= limit) {
      // A live change whose key the base holds is compared with its base row: only those rows (and
      // columns) of the base chunks are decoded (inserts of new keys decode only keys, as deletes do).
      const unchanged = partial && mode !== 'delete' ? await this.unchangedOf(m, input, changes, base, at, fetched, decodedBase) : undefined;
      const noop = unchanged && mode === 'upsert' ? noopRows(unchanged, m.schema, pk, changes, inDelta) : undefined;
      if (noop) return this.withoutRows(m, input, noop, mode, previous, chunkCount);
      const changeRows = mode === 'delete' ? tombstoneRows(input, m.schema, pk, partial) : liveRows(input, m.schema, partial, unchanged);
      const written = await this.editRuns(m, runs, { changes, rows: changeRows, tombstones: mode === 'delete', inBase, inRuns }, partial, previous);
      const delta: DeltaWrite | undefined = written.runs.length > 0 ? { runs: written.runs, rows, partial } : undefined;
      return this.finish(m, { list: base, tally: written.tally }, delta);
    }
    // Past the limit: the whole new delta (whole change rows; partial rows of the old delta are completed
    // by foldRows), folded into the base.
    const changeRows = mode === 'delete' ? tombstoneRows(input, m.schema, pk, partial) : liveRows(input, m.schema, partial);
    const old = m.delta ? await loadDelta(this.dec, m, runs) : null;
    const plan = planDelta(old?.run ?? null, changes, inBase, mode, this.paramsOf(m), previous);
    const sources = [tableToIPC(changeRows, 'stream')];
    let picks = plan.picks;
    if (old) sources.unshift(tableToIPC(old.table, 'stream'));
    else picks = picks.map((v, i) => (i % 2 === 0 ? v - 1 : v)); // no old delta: the change rows are source 0
    const schema = deltaSchema(m.schema, partial);
    const merged = await materialise(this.codec, sources, picks, schema, schema.fields.map((f) => f.name));
    return this.finish(m, await this.foldRows(m, base, merged, previous));
  }

  /**
   * For each change, its key's state in each delta run (`states`, oldest run first) and in the newest run
   * holding it (`newest`: Live, Tombstone or Absent). `at` receives where that newest row is (chunks
   * numbered across runs, run 0's first); `keep(chunk)` receives the bytes of chunks fetched.
   */
  private async lookupRuns(m: Manifest, runs: readonly ChunkInfo[][], keyTypes: readonly ColumnType[], changes: Changes, at?: KeyPositions, keep?: (chunk: number) => (bytes: Uint8Array) => void): Promise<RunStates> {
    const n = changes.order.length;
    const offsets = runs.map((_, r) => runs.slice(0, r).reduce((k, x) => k + x.length, 0));
    const found = await Promise.all(runs.map(async (list, r) => {
      const pos: KeyPositions = { chunk: new Int32Array(n).fill(-1), row: new Int32Array(n) };
      const state = await lookupKeys(list, keyTypes, changes, (i) => this.keyRun(m, list[i]!, true, keep?.(offsets[r]! + i)), this.concurrency, pos);
      return { state, pos };
    }));
    const newest = new Uint8Array(n);
    for (let y = 0; y < n; y++) {
      for (let r = runs.length - 1; r >= 0; r--) {
        const st = found[r]!.state[y]!;
        if (st === KeyState.Absent) continue;
        newest[y] = st;
        if (at) (at.chunk[y] = offsets[r]! + found[r]!.pos.chunk[y]!), (at.row[y] = found[r]!.pos.row[y]!);
        break;
      }
    }
    return { states: found.map((f) => f.state), newest };
  }

  /**
   * The delta runs after an edit (see FORMAT.md, "Delta runs"): the rows it writes (live rows, and
   * tombstones of keys the version holds) go to a new run, merged (newest row per key wins) with the
   * newest runs while those are not much larger than what merges into them (`DELTA_RUN_RATIO`), and
   * always so that at most `MAX_DELTA_RUNS` remain. A run merged into is re-chunked only around the
   * merged keys, so its other chunks keep their hashes; the runs before it are kept as they are. A
   * stream of small edits then writes each row O(log(delta / edit)) times, where one run rewrote the
   * whole delta per edit. A whole-row (formatVersion 2) delta stays one run.
   */
  private async editRuns(
    m: Manifest,
    runs: readonly ChunkInfo[][],
    edit: { changes: Changes; rows: Table; tombstones: boolean; inBase: Uint8Array; inRuns: RunStates },
    partial: boolean,
    table: string,
  ): Promise<{ runs: DeltaRunWrite[]; tally: Promise<Tally> }> {
    const { changes, inBase, inRuns } = edit;
    const refs = m.delta ? (m.delta.runs ?? [m.delta]) : [];
    const kept = (upTo: number): DeltaRunWrite[] => runs.slice(0, upTo).map((list, i) => ({ list, deletes: refs[i]!.deletes }));
    // The change rows this edit writes, in key order: a delete leaves a tombstone only over a row the
    // version holds (live in the newest run holding the key, or in the base and in no run).
    const ys: number[] = [];
    for (let y = 0; y < changes.order.length; y++) {
      const st = inRuns.newest[y]!;
      if (!edit.tombstones || st === KeyState.Live || (st === KeyState.Absent && inBase[y] === 1)) ys.push(y);
    }
    if (ys.length === 0) return { runs: kept(runs.length), tally: noTally() };
    // The run the new rows merge into (runs.length: a run of their own).
    const maxRuns = partial ? this.maxDeltaRuns : 1;
    let j = runs.length;
    let merged = ys.length;
    while (j > 0 && (j + 1 > maxRuns || refs[j - 1]!.rows <= DELTA_RUN_RATIO * merged)) merged += refs[--j]!.rows;
    const meta = { ...m, schema: deltaSchema(m.schema, partial) };
    const keyTypes = keyTypesOf(m.schema, m.primaryKey!);
    const target = runs[j] ?? [];
    // What merges into run j, one row per key in key order: the newer runs' rows and the edit's, newest first.
    let source: Table;
    let keys = changes.keys;
    let order: ArrayLike<number>;
    let tombstone: (r: number) => boolean;
    let below: Uint8Array; // per merged row (by position in `order`): 1 when the base holds its key
    let stateInTarget: Uint8Array;
    if (j >= runs.length - 1) {
      source = edit.rows;
      order = Uint32Array.from(ys, (y) => changes.order[y]!);
      tombstone = () => edit.tombstones;
      below = Uint8Array.from(ys, (y) => inBase[y]!);
      stateInTarget = j < runs.length ? Uint8Array.from(ys, (y) => inRuns.states[j]![y]!) : new Uint8Array(ys.length);
    } else {
      source = await this.newestRows(m, runs.slice(j + 1), edit.rows, changes.keys, Uint32Array.from(ys, (y) => changes.order[y]!), partial);
      order = identity(source.numRows);
      const flags = deltaFlags(source).deleted;
      tombstone = (r) => flags[r] === 1;
      keys = keyVectors(source, m.primaryKey!, m.schema);
      const combined: Changes = { keys, order, inOrder: true };
      // Only a merge into the oldest run asks the base (whether a tombstone still hides a row).
      const baseList = j === 0 ? await this.reader.chunkList(m) : [];
      [below, stateInTarget] = await Promise.all([
        lookupKeys(baseList, keyTypes, combined, (i) => this.keyRun(m, baseList[i]!, false), this.concurrency),
        lookupKeys(target, keyTypes, combined, (i) => this.keyRun(m, target[i]!, true), this.concurrency),
      ]);
    }
    // Merged into the oldest run, a tombstone of a key the base lacks hides nothing: it and any row of
    // its key in that run go (a key only the delta held leaves the delta).
    const removes = new Uint8Array(source.numRows);
    let rowsAfter = j < runs.length ? refs[j]!.rows : 0;
    let deletesAfter = j < runs.length ? refs[j]!.deletes : 0;
    for (let k = 0; k < order.length; k++) {
      const r = order[k]!;
      const dead = tombstone(r);
      const drop = dead && j === 0 && below[k] !== 1;
      if (drop) removes[r] = 1;
      const st = stateInTarget[k]!;
      if (st === KeyState.Tombstone) deletesAfter--;
      if (!drop) {
        if (st === KeyState.Absent) rowsAfter++;
        if (dead) deletesAfter++;
      } else if (st !== KeyState.Absent) rowsAfter--;
    }
    const stored = await this.rechunk(meta, target, { keys, order, deleted: removes as unknown as ArrayLike<boolean> }, source, source.numRows, 'merge', table);
    const out = kept(j);
    if (stored.list.length > 0) out.push({ list: stored.list, deletes: deletesAfter });
    // The run's rows are counted from its chunks; a mismatch here means the tombstone count is wrong too.
    const storedRows = stored.list.reduce((n, c) => n + c.rows, 0);
    if (storedRows !== rowsAfter) throw new CorruptMetadataError('delta run', `${j}`, `the merge left ${storedRows} rows where the key states gave ${rowsAfter}`);
    return { runs: out, tally: stored.tally };
  }

  /**
   * The rows of newer delta runs and of an edit (`order`: its rows written, in key order; the newest) as
   * one table in key order, one row per key, the newest row of each: what merges into an older run.
   */
  private async newestRows(m: Manifest, newer: readonly ChunkInfo[][], rows: Table, keys: KeyVectors, order: Uint32Array, partial: boolean): Promise<Table> {
    const pk = m.primaryKey!;
    const schema = deltaSchema(m.schema, partial);
    const names = schema.fields.map((f) => f.name);
    const list = newer.flat();
    const ipcs = await this.decodeChunks(list.map((c) => c.hash));
    const chunkRuns = ipcs.map((ipc): KeyRun => ({ keys: keyVectors(tableFromIPC(ipc), pk, m.schema) }));
    const edit: KeyRun = { keys: gatherKeys([keys], new Uint32Array(order.length), order) };
    const w = deltaWinners([...splitRuns(newer, chunkRuns), [edit]]);
    const picks = new Uint32Array(2 * w.chunk.length);
    for (let i = 0; i < w.chunk.length; i++) {
      const fromEdit = w.chunk[i]! === list.length;
      picks[2 * i] = w.chunk[i]!;
      picks[2 * i + 1] = fromEdit ? order[w.row[i]!]! : w.row[i]!;
    }
    return materialise(this.codec, [...ipcs, tableToIPC(rows, 'stream')], picks, schema, names);
  }
  /**
   * The edit of `input` without the rows `noop` marks (1: the row changes nothing); with none left, the
   * version itself (`previous`, nothing written).
   */
  private async withoutRows(m: Manifest, input: Table, noop: Uint8Array, mode: Exclude<EditMode, 'merge'>, previous: Hash, chunks: number): Promise<WriteResult> {
    const rest: number[] = [];
    for (let r = 0; r < input.numRows; r++) if (noop[r] === 0) rest.push(r);
    if (rest.length === 0) return { manifest: previous, rows: m.rows, chunksWritten: 0, chunksReused: chunks, bytesWritten: 0 };
    const picks = new Uint32Array(2 * rest.length);
    rest.forEach((r, i) => (picks[2 * i + 1] = r));
    const names = m.schema.fields.map((f) => f.name);
    return this.keyedEdit(m, tableFromIPC(await this.codec.interleave([tableToIPC(input, 'stream')], picks, names)), mode, previous);
  }

  /**
   * A change whose copy-on-write costs no more rows than the change itself (the base chunks its keys fall
   * in hold at most `changeRows` rows: a bulk append past the last key, a dense key range) is written into
   * the base directly: the delta would save little writing and cost every later read an anti-join.
   * Scattered changes (each key in a different chunk) go to the delta. Decided from the manifest and the
   * input only, so the result stays deterministic.
   */
  private clustered(m: Manifest, base: readonly ChunkInfo[], changes: Changes, changeRows: number): boolean {
    const keyTypes = keyTypesOf(m.schema, m.primaryKey!);
    const ranges = assignChanges(base, keyTypes, changes);
    let rewritten = 0;
    for (let i = 0; i < base.length; i++) if (ranges[i]![0] !== ranges[i]![1]) rewritten += base[i]!.rows;
    return rewritten <= changeRows;
  }

  /** Delta rows allowed for a base (-1: no delta, the table is too small or deltas are off). */
  private deltaLimit(base: readonly ChunkInfo[]): number {
    if (this.deltaMaxFraction === 0 || base.length < 2) return -1;
    return Math.floor(this.deltaMaxFraction * base.reduce((s, c) => s + c.rows, 0));
  }

  /**
   * The key columns of a chunk (and the tombstone flags of a delta chunk). `keep` receives the chunk's
   * bytes, for a later decode of some of its rows without a second GET.
   */
  private async keyRun(m: Manifest, c: ChunkInfo, delta: boolean, keep?: (bytes: Uint8Array) => void): Promise<KeyRun> {
    const pk = m.primaryKey!;
    const cached = this.keyRuns.get(c.hash, pk, delta);
    if (cached) return cached;
    const bytes = await this.store.get(c.hash);
    keep?.(bytes);
    const t = tableFromIPC(await this.codec.decode(bytes, delta ? [...pk, DELTA_DELETED_COLUMN] : pk));
    const keys = keyVectors(t, pk, m.schema);
    const run = delta ? { keys, deleted: deltaFlags(t).deleted } : { keys };
    this.keyRuns.set(c.hash, pk, delta, run);
    return run;
  }

  /**
   * Column-level updates of an upsert or insert (see `unchangedMasks`): a sample of the changes whose key
   * the base holds is compared with its base rows, and only if it keeps enough base values
   * (`keepsEnough`) is every such change. Undefined: whole rows.
   */
  private async unchangedOf(m: Manifest, input: Table, changes: Changes, base: readonly ChunkInfo[], at: KeyPositions, fetched: ReadonlyMap<number, Uint8Array>, decoded?: DecodedRows): Promise<Array<string | null> | undefined> {
    const pk = m.primaryKey!;
    const names = m.schema.fields.map((f) => f.name);
    const found: number[] = [];
    for (let y = 0; y < at.chunk.length; y++) if (at.chunk[y]! >= 0) found.push(y);
    if (found.length === 0 || names.length === pk.length) return undefined;
    // The first found changes in key order, in one or two base chunks, so the sample decodes little (an
    // evenly spread one would decompress every chunk the edit touches).
    const sample = unchangedSample(found, at.chunk);
    const nonKey = names.filter((n) => !pk.includes(n));
    if (decoded) {
      // Every found base row is decoded already (a partial upsert's fill): all masks at once.
      const masks = unchangedMasks(input, m.schema, nonKey, changes, decoded.at, tablesOf(decoded.ipcs));
      const kept = sample.reduce((n, y) => n + (masks[changes.order[y]!]?.split('1').length ?? 1) - 1, 0);
      return keepsEnough(kept, sample.length * nonKey.length) ? masks : undefined;
    }
    const s = await this.decodeFound(base, at, fetched, sample, nonKey);
    const masks = unchangedMasks(input, m.schema, nonKey, changes, s.at, tablesOf(s.ipcs));
    const kept = sample.reduce((n, y) => n + (masks[changes.order[y]!]?.split('1').length ?? 1) - 1, 0);
    if (!keepsEnough(kept, sample.length * nonKey.length)) return undefined;
    const all = await this.decodeFound(base, at, fetched, found, nonKey);
    return unchangedMasks(input, m.schema, nonKey, changes, all.at, tablesOf(all.ipcs));
  }

  /**
   * `columns` of the base rows of changes `ys` (ascending positions in `changes.order` whose key was
   * found, `at`), decoded per chunk index with only those rows (Arrow IPC), and `at` renumbered to row
   * positions within each chunk's decoded rows (-1 for changes not in `ys`). `fetched`: bytes already read.
   */
  private async decodeFound(list: readonly ChunkInfo[], at: KeyPositions, fetched: ReadonlyMap<number, Uint8Array>, ys: readonly number[], columns: readonly string[]): Promise<DecodedRows> {
    // Changes are in key order, so each chunk's rows come in ascending order.
    const wanted = new Map<number, number[]>();
    const local: KeyPositions = { chunk: new Int32Array(at.chunk.length).fill(-1), row: new Int32Array(at.row.length) };
    for (const y of ys) {
      const c = at.chunk[y]!;
      let rows = wanted.get(c);
      if (!rows) wanted.set(c, (rows = []));
      local.chunk[y] = c;
      local.row[y] = rows.length;
      rows.push(at.row[y]!);
    }
    const chunks = [...wanted.keys()];
    const ipcs = await mapLimit(chunks, this.concurrency, async (i) =>
      this.codec.decode(fetched.get(i) ?? (await this.store.get(list[i]!.hash)), columns, Uint32Array.from(wanted.get(i)!)));
    return { ipcs: new Map(chunks.map((i, k) => [i, ipcs[k]!])), at: local };
  }

  /**
   * Delta rows (sorted, one per key) with every partial row completed from its base row, so the rows
   * can replace base rows whole. Decodes only the base rows of partial rows (keys first, as an edit does).
   */
  private async completePartial(m: Manifest, base: readonly ChunkInfo[], delta: Table): Promise<Table> {
    const { deleted, unchanged } = deltaFlags(delta);
    if (!unchanged) return delta;
    const pk = m.primaryKey!;
    const names = m.schema.fields.map((f) => f.name);
    const rows = unchanged.flatMap((u, i) => (u && !deleted[i] ? [i] : []));
    const keys = keyVectors(delta, pk, m.schema);
    const changes: Changes = { keys, order: Uint32Array.from(rows) };
    const at: KeyPositions = { chunk: new Int32Array(rows.length).fill(-1), row: new Int32Array(rows.length) };
    const fetched = new Map<number, Uint8Array>();
    await lookupKeys(base, keyTypesOf(m.schema, pk), changes, (i) => this.keyRun(m, base[i]!, false, (b) => void fetched.set(i, b)), this.concurrency, at);
    rows.forEach((r, y) => {
      if (at.chunk[y]! < 0) throw orphanPartialRow(JSON.stringify(jsonKey(keyAt(keys, r))));
    });
    const found = await this.decodeFound(base, at, fetched, rows.map((_, y) => y), names);
    // Sources: the base rows found, per chunk, then the delta rows (source `chunks.length`, in order).
    const chunks = [...found.ipcs.keys()];
    const sourceOf = new Map(chunks.map((c, s) => [c, s]));
    const picks = new Uint32Array(2 * delta.numRows);
    for (let i = 0; i < delta.numRows; i++) (picks[2 * i] = chunks.length), (picks[2 * i + 1] = i);
    const patches: Patches = { out: rows, source: rows.map((_, y) => sourceOf.get(at.chunk[y]!)!), row: rows.map((_, y) => found.at.row[y]!), mask: rows.map((r) => unchanged[r]!) };
    // The codec interleaves sources of one set of columns: the table's.
    const sources = [...chunks.map((c) => found.ipcs.get(c)!), tableToIPC(delta.select(names), 'stream')];
    const done = tableFromIPC(await materialiseOverlay(this.codec, sources, { picks, patches }, names, names));
    const cols: Record<string, Vector> = {};
    for (const n of names) cols[n] = done.getChild(n)!;
    cols[DELTA_DELETED_COLUMN] = delta.getChild(DELTA_DELETED_COLUMN)!;
    return new Table(cols);
  }

  /** The base chunks with the version's delta folded in (new chunks stored, no manifest written). */
  private async fold(m: Manifest, table: string): Promise<Stored> {
    const base = await this.reader.chunkList(m);
    const delta = await loadDelta(this.dec, m, await this.reader.deltaRuns(m));
    return this.foldRows(m, base, delta.table, table);
  }

  /** Merges delta rows (delta schema, sorted by key, one row per key) into base chunks. */
  private async foldRows(m: Manifest, base: ChunkInfo[], rows: Table, table: string): Promise<Stored> {
    const delta = await this.completePartial(m, base, rows);
    const names = m.schema.fields.map((f) => f.name);
    const changes: Changes = {
      keys: keyVectors(delta, m.primaryKey!, m.schema),
      order: identity(delta.numRows),
      deleted: delta.getChild(DELTA_DELETED_COLUMN)!.toArray() as ArrayLike<boolean | null>,
    };
    return this.rechunk(m, base, changes, delta.select(names), delta.numRows, 'merge', table);
  }

  /**
   * Merges sorted changes into base chunks, re-chunking only around them; stores the new chunks.
   * `rows`: the change rows (null for a delete, whose rows are only keys), handed to the codec as
   * `chunkSource` makes them.
   */
  private async rechunk(m: TableMeta, old: ChunkInfo[], changes: Changes, rows: Table | null, inputRows: number, mode: EditMode, table: string): Promise<Stored> {
    const pk = m.primaryKey!;
    const keyTypes = keyTypesOf(m.schema, pk);
    const bytes = old.length > 0 ? this.prefetch(old, keyTypes, changes.keys, changes.order) : new Map<number, Promise<Uint8Array>>();
    const plan = await planRechunk(old, keyTypes, changes, mode, this.paramsOf(m), rows ? chunkSource(rows) : new Uint8Array(0), async (i) => {
      const parquet = await (bytes.get(i) ?? this.store.get(old[i]!.hash));
      const t = tableFromIPC(await this.codec.decode(parquet, pk));
      return { parquet, keys: keyVectors(t, pk, m.schema) };
    }, table);
    const fresh = plan.cuts.length === 0 ? { list: [], tally: noTally() } : await this.encodeChunks(m, encoderJob(plan, inputRows), plan);
    const list: ChunkInfo[] = [];
    for (const s of plan.segments) {
      if ('old' in s) list.push(old[s.old]!);
      else list.push(...fresh.list.slice(s.fresh[0], s.fresh[1]));
    }
    return { list, tally: fresh.tally };
  }

  /** Starts fetching the chunks the changes fall in (the re-chunking may pull in a few neighbours later). */
  private prefetch(old: ChunkInfo[], keyTypes: ColumnType[], keys: ReturnType<typeof keyVectors>, order: ArrayLike<number>): Map<number, Promise<Uint8Array>> {
    const out = new Map<number, Promise<Uint8Array>>();
    const ranges = assignChanges(old, keyTypes, { keys, order });
    for (let i = 0; i < old.length; i++) {
      if (ranges[i]![0] === ranges[i]![1]) continue;
      const p = this.store.get(old[i]!.hash);
      p.catch(() => undefined); // awaited (and reported) when the plan reaches this chunk
      out.set(i, p);
    }
    return out;
  }

  /** `meta`: the chunks' schema and, for a keyed table, the key their rows are sorted by. */
  private async encodeChunks(meta: Pick<TableMeta, 'schema' | 'primaryKey'>, job: { sources: ChunkSource[]; picks: Uint32Array | null; cuts: Uint32Array }, keys?: Pick<RechunkPlan, 'firstKeys' | 'lastKeys'>): Promise<Stored> {
    const { schema } = meta;
    // Delta chunks (scattered changed rows) get delta encodings; base chunks delta-encode their sort key.
    const layout: EncodeOptions = isDeltaSchema(schema) ? { layout: 'delta' } : { layout: 'base', ...(meta.primaryKey ? { sortedColumns: [...meta.primaryKey] } : {}) };
    const encoded = await this.codec.buildChunks(job.sources, job.picks, job.cuts, { ...this.encode, ...layout });
    const stored = await storeBlobs(this.store, await this.hasher(), encoded.map((e) => e.bytes), this.writes);
    const list = encoded.map((e, i): ChunkInfo => {
      const stats: ChunkInfo['stats'] = {};
      schema.fields.forEach((f, c) => (stats[f.name] = columnStats(f.type, e.stats[c]!)));
      const info: ChunkInfo = { hash: stored.hashes[i]!, rows: e.rows, bytes: e.bytes.byteLength, stats };
      if (keys) {
        info.firstKey = jsonKey(keys.firstKeys[i]!);
        info.lastKey = jsonKey(keys.lastKeys[i]!);
      }
      return info;
    });
    return { list, tally: stored.tally };
  }

  /**
   * An unkeyed table gets one chunk per append, so many small appends leave many small chunks (every
   * reader pays per file). Each run of two or more adjacent chunks under half the target rows is
   * rewritten, in order, as chunks of the target size (a long run in batches of MERGE_BATCH_TARGETS
   * targets, to bound memory). Undefined when there is no such run.
   */
  private async mergeSmallChunks(m: Manifest, list: readonly ChunkInfo[]): Promise<Stored | undefined> {
    const target = this.paramsOf(m).targetRows;
    const small = (c: ChunkInfo): boolean => c.rows < target / 2;
    const out: ChunkInfo[] = [];
    const tallies: Promise<Tally>[] = [];
    let merged = false;
    for (let i = 0; i < list.length;) {
      let j = i;
      let rows = 0;
      while (j < list.length && small(list[j]!) && rows < MERGE_BATCH_TARGETS * target) rows += list[j++]!.rows;
      if (j - i < 2) {
        out.push(list[i]!);
        i++;
        continue;
      }
      // Parquet chunks are sources as they are: the codec decodes and concatenates them in order.
      const sources = await mapLimit(list.slice(i, j), this.concurrency, (c) => this.store.get(c.hash));
      // Chunks of `target` rows, the last taking the remainder (under 2 x target): only a run smaller than
      // one target leaves a small chunk, so compacting again finds nothing to merge.
      const n = Math.max(1, Math.floor(rows / target));
      const cuts = Uint32Array.from({ length: n }, (_, k) => (k === n - 1 ? rows : (k + 1) * target));
      const enc = await this.encodeChunks(m, { sources, picks: null, cuts });
      out.push(...enc.list);
      tallies.push(enc.tally);
      merged = true;
      i = j;
    }
    return merged ? { list: out, tally: sumTallies(tallies) } : undefined;
  }

  /** The chunking a table was written with (manifests before `targetChunkRows` existed: ours). */
  private paramsOf(m: TableMeta): ChunkingParams {
    return m.targetChunkRows === undefined || m.targetChunkRows === this.params.targetRows ? this.params : chunkingParams(m.targetChunkRows);
  }

  /** `m`: the edited version's manifest (its pages are reused where unchanged), or a new table's meta. */
  private async finish(m: TableMeta & Partial<Pick<Manifest, 'pages' | 'delta'>>, data: Stored, delta?: DeltaWrite): Promise<WriteResult> {
    const base: TableMeta = { schema: m.schema };
    if (m.primaryKey) base.primaryKey = m.primaryKey;
    base.targetChunkRows = m.targetChunkRows ?? this.params.targetRows;
    const sink = { chunks: this.store, hasher: await this.hasher(), reader: this.reader, writes: this.writes };
    const w = await writeManifest(sink, base, data.list, delta, m);
    // Every level's blobs were asked for by now; their answers are awaited together, here.
    const [chunks, manifest] = await Promise.all([data.tally, w.tally]);
    return {
      manifest: w.manifest,
      rows: delta ? delta.rows : data.list.reduce((s, c) => s + c.rows, 0),
      chunksWritten: chunks.written,
      chunksReused: data.list.length + (delta?.runs.reduce((n, r) => n + r.list.length, 0) ?? 0) - chunks.written,
      bytesWritten: chunks.bytesWritten + manifest.bytesWritten,
    };
  }
}

type TableMeta = Pick<Manifest, 'schema' | 'primaryKey' | 'targetChunkRows'>;

/** Where an edit's keys stand in a delta's runs (see `lookupRuns`). */
interface RunStates {
  /** Per run (oldest first), per change: KeyState. */
  readonly states: readonly Uint8Array[];
  /** Per change: its state in the newest run holding the key (Absent: in none). */
  readonly newest: Uint8Array;
}

/**
 * Delta runs (formatVersion 4): the newest run absorbs the next edit while it holds at most this many
 * times the rows merging into it. 2 keeps run sizes about doubling from newest to oldest, so a delta of
 * D rows fed by edits of e rows has at most ~log2(D / e) runs and writes each row about as many times.
 */
export const DELTA_RUN_RATIO = 2;

/** Default runs a delta may have (`maxDeltaRuns`); past it the newest merge, whatever their sizes (readers merge every run). */
export const MAX_DELTA_RUNS = 8;

/** Some rows of chunks (see `decodeFound`): Arrow IPC per chunk index, and where each change's row is in it. */
interface DecodedRows {
  ipcs: Map<number, Uint8Array>;
  at: KeyPositions;
}

/** Chunks of a new version and what storing its new ones cost. */
interface Stored {
  list: ChunkInfo[];
  tally: Promise<Tally>;
}

/** Rows (in target chunks) one merge of small unkeyed chunks rewrites at most at once. */
const MERGE_BATCH_TARGETS = 16;

/** Decoded IPC per chunk index as Arrow tables. */
function tablesOf(ipcs: ReadonlyMap<number, Uint8Array>): Map<number, Table> {
  return new Map([...ipcs].map(([i, ipc]) => [i, tableFromIPC(ipc)]));
}

function assertNotReserved(names: readonly string[]): void {
  for (const reserved of [DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN]) {
    if (names.includes(reserved)) throw new SchemaMismatchError(`column name ${reserved} is reserved by the table format`, { column: reserved });
  }
}

function fillVector(type: ColumnType, value: unknown, n: number): Vector {
  if (value === undefined || value === null) return nullVector(type, n);
  try {
    return vectorFromArray(new Array(n).fill(value ?? null), arrowType(type));
  } catch (err) {
    throw new SchemaMismatchError(`default value ${String(value)} does not fit type ${type}`, { type });
  }
}
