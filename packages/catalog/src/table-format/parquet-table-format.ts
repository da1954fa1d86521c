import { assertHash, mapLimit } from '@armillaria/core';
import type { Hash } from '@armillaria/core';
import { loadHasher } from '@armillaria/chunk-store';
import type { ChunkStore, Hasher } from '@armillaria/chunk-store';
import { Table, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { PrimaryKeyRequiredError, SchemaMismatchError, DuplicateKeyError } from '../errors.js';
import { chunkingParams, fixedCuts, type ChunkingParams } from './chunker.js';
import { storeBlobs } from './chunk-sink.js';
import { arrowType, columnStats, conform, isColumnType, schemaOf, type ManifestSchema } from './column-types.js';
import { compareRows, jsonKey, keyAt, keyVectors, sortOrder, validateKey } from './keys.js';
import { ManifestReader, writeManifest } from './manifest-io.js';
import { nativeCodec, type EncodeOptions, type ParquetCodec } from './native-codec.js';
import { chunkMayMatch } from './prune.js';
import { assignChanges, planRechunk, type EditMode, type RechunkPlan } from './rechunk.js';
import { chunkDiff, rowDiff } from './diff.js';
import { concatDecoded } from './rows.js';
import type {
  ChunkDiff, ChunkInfo, ColumnType, Manifest, ReadOptions, RowDiff, TableFormat, WriteResult,
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
  private hasherP: Promise<Hasher> | undefined;

  constructor(opts: ParquetTableFormatOptions) {
    this.store = opts.chunks;
    this.params = chunkingParams(opts.targetChunkRows);
    this.codec = opts.codec ?? nativeCodec;
    this.encode = { compression: opts.compression ?? 'zstd' };
    this.concurrency = opts.readConcurrency ?? 4;
    this.reader = new ManifestReader(this.store);
    if (opts.hasher) this.hasherP = Promise.resolve(opts.hasher);
  }

  private hasher(): Promise<Hasher> {
    this.hasherP ??= loadHasher();
    return this.hasherP;
  }

  /**
   * `previous` is only validated: chunks the new version shares with it (or with anything else in the
   * store) are reused because they are content-addressed, and reported in `chunksReused`.
   */
  async write(rows: Table, opts: { primaryKey?: readonly string[]; previous?: Hash } = {}): Promise<WriteResult> {
    if (opts.previous !== undefined) assertHash(opts.previous);
    const schema = schemaOf(rows);
    const input = conform(rows, schema);
    if (opts.primaryKey) {
      validateKey(schema, opts.primaryKey);
      const base = { schema, primaryKey: [...opts.primaryKey], targetChunkRows: this.params.targetRows };
      return this.keyedEdit(base, [], input, 'insert', 'new table');
    }
    const ipc = tableToIPC(input, 'stream');
    const fresh = input.numRows === 0 ? { list: [], ...empty() } : await this.encodeChunks(schema, { sources: [ipc], picks: null, cuts: fixedCuts(input.numRows, this.params.targetRows) });
    return this.finish({ schema, targetChunkRows: this.params.targetRows }, fresh.list, fresh);
  }

  async append(previous: Hash, rows: Table): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    const input = conform(rows, m.schema);
    if (m.primaryKey) return this.keyedEdit(m, await this.chunks(previous), input, 'insert', previous);
    const old = await this.chunks(previous);
    if (input.numRows === 0) return this.finish(m, old, empty());
    const fresh = await this.encodeChunks(m.schema, { sources: [tableToIPC(input, 'stream')], picks: null, cuts: fixedCuts(input.numRows, this.paramsOf(m).targetRows) });
    return this.finish(m, [...old, ...fresh.list], fresh);
  }

  async upsert(previous: Hash, rows: Table): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!m.primaryKey) throw new PrimaryKeyRequiredError(previous, 'upsert');
    return this.keyedEdit(m, await this.chunks(previous), conform(rows, m.schema), 'upsert', previous);
  }

  async deleteKeys(previous: Hash, keys: Table): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!m.primaryKey) throw new PrimaryKeyRequiredError(previous, 'deleteKeys');
    return this.keyedEdit(m, await this.chunks(previous), conform(keys, m.schema, m.primaryKey), 'delete', previous);
  }

  async addColumn(previous: Hash, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<WriteResult> {
    const m = await this.readManifest(previous);
    if (!isColumnType(column.type)) throw new SchemaMismatchError(`unknown column type ${JSON.stringify(column.type)}`, { type: String(column.type) });
    if (typeof column.name !== 'string' || column.name === '' || m.schema.fields.some((f) => f.name === column.name)) {
      throw new SchemaMismatchError(`column ${JSON.stringify(column.name)} is empty or exists already`, { column: String(column.name) });
    }
    const schema: ManifestSchema = { fields: [...m.schema.fields, { name: column.name, type: column.type, nullable: true }] };
    const old = await this.chunks(previous);
    const names = m.schema.fields.map((f) => f.name);
    // Each chunk keeps its rows (and so its key range and boundaries); only its bytes change.
    const rewritten = await mapLimit(old, 2, async (c) => {
      const t = tableFromIPC(await this.codec.decode(await this.store.get(c.hash)));
      const cols: Record<string, Vector> = {};
      for (const n of names) cols[n] = t.getChild(n)!;
      cols[column.name] = fillVector(column.type, column.defaultValue, t.numRows);
      const enc = await this.encodeChunks(schema, { sources: [tableToIPC(new Table(cols), 'stream')], picks: null, cuts: Uint32Array.of(t.numRows) });
      const info = enc.list[0]!;
      return { ...enc, list: [{ ...info, ...(c.firstKey ? { firstKey: c.firstKey, lastKey: c.lastKey } : {}) }] };
    });
    const stored = rewritten.reduce((a, r) => ({ written: a.written + r.written, bytesWritten: a.bytesWritten + r.bytesWritten }), empty());
    return this.finish({ ...m, schema }, rewritten.flatMap((r) => r.list), stored);
  }

  async readManifest(manifest: Hash): Promise<Manifest> {
    assertHash(manifest);
    return this.reader.manifest(manifest);
  }

  async chunks(manifest: Hash): Promise<ChunkInfo[]> {
    return this.reader.chunkList(await this.readManifest(manifest));
  }

  async read(manifest: Hash, opts: ReadOptions = {}): Promise<Table> {
    const m = await this.readManifest(manifest);
    const columns = opts.columns ? [...opts.columns] : m.schema.fields.map((f) => f.name);
    for (const c of columns) {
      if (!m.schema.fields.some((f) => f.name === c)) throw new SchemaMismatchError(`no column ${JSON.stringify(c)} in the table`, { column: c });
    }
    let list = await this.chunks(manifest);
    if (opts.range) {
      const field = m.schema.fields.find((f) => f.name === opts.range!.column);
      if (!field) throw new SchemaMismatchError(`no column ${JSON.stringify(opts.range.column)} to prune on`, { column: opts.range.column });
      list = list.filter((c) => chunkMayMatch(field.type, c.stats[field.name], opts.range!));
    }
    const ipcs = await this.decodeChunks(list.map((c) => c.hash), opts.columns ? columns : undefined);
    return concatDecoded(m.schema, columns, ipcs);
  }

  async diffChunks(from: Hash | null, to: Hash | null): Promise<ChunkDiff> {
    const [a, b] = await Promise.all([from === null ? null : this.readManifest(from), to === null ? null : this.readManifest(to)]);
    return chunkDiff(this.reader, a, b);
  }

  async diffRows(from: Hash | null, to: Hash | null, opts: { keyColumns?: readonly string[] } = {}): Promise<RowDiff> {
    const [a, b] = await Promise.all([from === null ? null : this.readManifest(from), to === null ? null : this.readManifest(to)]);
    const d = await chunkDiff(this.reader, a, b);
    const keyColumns = opts.keyColumns ? [...opts.keyColumns] : (b ?? a)?.primaryKey ?? [];
    for (const k of keyColumns) {
      if (!(b ?? a)!.schema.fields.some((f) => f.name === k)) throw new SchemaMismatchError(`no key column ${JSON.stringify(k)} in the table`, { column: k });
    }
    const decode = async (m: Manifest | null, list: ChunkInfo[]): Promise<Table | null> =>
      m && list.length > 0 ? concatDecoded(m.schema, m.schema.fields.map((f) => f.name), await this.decodeChunks(list.map((c) => c.hash))) : null;
    const [removed, added] = await Promise.all([decode(a, d.removed), decode(b, d.added)]);
    // Rows of chunks in table order are sorted by the primary key: a merge join pairs them.
    const byPk = (m: Manifest | null): boolean => m === null || (m.primaryKey?.length === keyColumns.length && m.primaryKey.every((k, i) => k === keyColumns[i]));
    return rowDiff(keyColumns, removed, added, keyColumns.length > 0 && byPk(a) && byPk(b));
  }

  // --- internals -------------------------------------------------------------------------------

  private decodeChunks(hashes: readonly Hash[], columns?: readonly string[]): Promise<Uint8Array[]> {
    return mapLimit(hashes, this.concurrency, async (h) => this.codec.decode(await this.store.get(h), columns));
  }

  /** A keyed write, append, upsert or delete: merges sorted changes and re-chunks only around them. */
  private async keyedEdit(m: TableMeta, old: ChunkInfo[], input: Table, mode: EditMode, table: string): Promise<WriteResult> {
    const pk = m.primaryKey!;
    const keyTypes = pk.map((k) => m.schema.fields.find((f) => f.name === k)!.type);
    const keys = keyVectors(input, pk, m.schema);
    const order = sortOrder(keys) ?? identity(keys.length);
    for (let i = 1; i < order.length; i++) {
      if (compareRows(keys, order[i - 1]!, keys, order[i]!) === 0) throw new DuplicateKeyError(table, jsonKey(keyAt(keys, order[i]!)));
    }
    const changeIpc = mode === 'delete' ? new Uint8Array(0) : tableToIPC(input, 'stream');
    const bytes = old.length > 0 ? this.prefetch(old, keyTypes, keys, order) : new Map<number, Promise<Uint8Array>>();
    const plan = await planRechunk(old, keyTypes, { keys, order }, mode, this.paramsOf(m), changeIpc, async (i) => {
      const parquet = await (bytes.get(i) ?? this.store.get(old[i]!.hash));
      const t = tableFromIPC(await this.codec.decode(parquet, pk));
      return { parquet, keys: keyVectors(t, pk, m.schema) };
    }, table);
    const fresh = plan.cuts.length === 0 ? { list: [], ...empty() } : await this.encodeChunks(m.schema, compact(plan, input.numRows), plan);
    const list: ChunkInfo[] = [];
    for (const s of plan.segments) {
      if ('old' in s) list.push(old[s.old]!);
      else list.push(...fresh.list.slice(s.fresh[0], s.fresh[1]));
    }
    return this.finish(m, list, fresh);
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

  private async encodeChunks(schema: ManifestSchema, job: { sources: Uint8Array[]; picks: Uint32Array | null; cuts: Uint32Array }, keys?: RechunkPlan): Promise<{ list: ChunkInfo[]; written: number; bytesWritten: number }> {
    const encoded = await this.codec.buildChunks(job.sources, job.picks, job.cuts, this.encode);
    const stored = await storeBlobs(this.store, await this.hasher(), encoded.map((e) => e.bytes));
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
    return { list, written: stored.written, bytesWritten: stored.bytesWritten };
  }

  /** The chunking a table was written with (manifests before `targetChunkRows` existed: ours). */
  private paramsOf(m: TableMeta): ChunkingParams {
    return m.targetChunkRows === undefined || m.targetChunkRows === this.params.targetRows ? this.params : chunkingParams(m.targetChunkRows);
  }

  private async finish(m: TableMeta, list: ChunkInfo[], data: { written: number; bytesWritten: number }): Promise<WriteResult> {
    const base: TableMeta = { schema: m.schema };
    if (m.primaryKey) base.primaryKey = m.primaryKey;
    base.targetChunkRows = m.targetChunkRows ?? this.params.targetRows;
    const w = await writeManifest(this.store, await this.hasher(), base, list);
    return {
      manifest: w.manifest,
      rows: list.reduce((s, c) => s + c.rows, 0),
      chunksWritten: data.written,
      chunksReused: list.length - data.written,
      bytesWritten: data.bytesWritten + w.bytesWritten,
    };
  }
}

type TableMeta = Pick<Manifest, 'schema' | 'primaryKey' | 'targetChunkRows'>;

const empty = (): { written: number; bytesWritten: number } => ({ written: 0, bytesWritten: 0 });

function identity(n: number): Uint32Array {
  const o = new Uint32Array(n);
  for (let i = 0; i < n; i++) o[i] = i;
  return o;
}

/**
 * The encoder's job for a plan: drops sources no new row comes from (a delete's key table, chunks whose
 * rows were all deleted), and passes a plain slice instead of picks when the rows are one source in order.
 */
function compact(plan: RechunkPlan, inputRows: number): { sources: Uint8Array[]; picks: Uint32Array | null; cuts: Uint32Array } {
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

function fillVector(type: ColumnType, value: unknown, n: number): Vector {
  try {
    return vectorFromArray(new Array(n).fill(value ?? null), arrowType(type));
  } catch (err) {
    throw new SchemaMismatchError(`default value ${String(value)} does not fit type ${type}`, { type });
  }
}
