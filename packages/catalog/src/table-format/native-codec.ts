import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ArmillariaError, ErrorCode, InvalidArgumentError } from '@armillaria/core';
import type { ColumnType } from './table-format.js';

/**
 * A table handed to the codec as its columns' buffers instead of an Arrow IPC stream (`columnsSource`):
 * writing the stream in JS cost more than the encode's own copy of the buffers.
 */
export interface ColumnsSource {
  names: string[];
  types: ColumnType[];
  /** `batches[b][c]`: column c of record batch b (Arrow JS buffers, offset 0). */
  batches: Array<Array<{ length: number; nullCount: number; validity?: Uint8Array; offsets?: Uint8Array; values: Uint8Array }>>;
}

/** A source of rows for `buildChunks`: Arrow IPC stream, Parquet file, or a table's column buffers. */
export type ChunkSource = Uint8Array | ColumnsSource;

/**
 * The Parquet codec of the table format, implemented by the napi-rs addon in `packages/catalog/native`
 * (built by `scripts/build.mjs` into `native/addon.node`). This is the only module that loads it.
 */
export interface ParquetCodec {
  /**
   * Materialises and encodes chunks. `sources`: Arrow IPC streams, Parquet files or column buffers with the same columns;
   * `picks`: flat (source, row) pairs giving the output order (null = sources concatenated); `cuts`:
   * exclusive end row of each chunk. Same rows => same bytes.
   */
  buildChunks(sources: readonly ChunkSource[], picks: Uint32Array | null, cuts: Uint32Array, opts?: EncodeOptions): Promise<EncodedChunk[]>;
  /**
   * Parquet -> Arrow IPC stream, optionally only some columns (returned in file order) and only some rows
   * (`rows`: strictly ascending row numbers; the others are skipped, not materialised).
   */
  decode(parquet: Uint8Array, columns?: readonly string[], rows?: Uint32Array): Promise<Uint8Array>;
  /**
   * The rows `picks` (flat (source, row) pairs) of `sources` (Arrow IPC streams or Parquet files that
   * hold `columns`; each is projected to them as it loads, and a Parquet source decodes only them; an
   * empty array is a placeholder for a source no pick uses) as one Arrow IPC stream of `columns` (all
   * when absent, then every source has the same columns; else in the order given): what
   * `buildChunks` materialises, without encoding it, for rows that are only read. `groups`: other picks
   * (same length) for some of `columns`: `of[i]` indexes `picks` of groups for column i, -1 for `picks`
   * (column-level updates, whose unchanged columns come from base rows), all from one load of the sources.
   */
  interleave(sources: readonly Uint8Array[], picks: Uint32Array, columns?: readonly string[], groups?: { picks: readonly Uint32Array[]; of: readonly number[] }): Promise<Uint8Array>;
}

export interface EncodeOptions {
  /** `zstd` (level 1, the default, chosen by `bench/parquet-encoders.bench.ts`), `snappy` or `none`. */
  compression?: 'zstd' | 'snappy' | 'none';
  rowGroupRows?: number;
  /**
   * Column encodings (part of the chunk bytes, so callers set it explicitly). `base` (the default):
   * dictionary pages, falling back to plain (integers: to DELTA_BINARY_PACKED; see `sortedColumns`).
   * `delta`, for merge-on-read delta chunks (scattered changed rows): no dictionaries;
   * DELTA_BINARY_PACKED for integers, dates and timestamps; DELTA_BYTE_ARRAY for utf8 and binary; plain
   * for floats and booleans. Any Parquet reader decodes both (FORMAT.md).
   */
  layout?: ChunkLayout;
  /**
   * Base layout: the columns the rows are sorted by (a keyed table's primary key). They are delta-encoded
   * without a dictionary (DELTA_BINARY_PACKED, DELTA_BYTE_ARRAY for strings); other integer, date and
   * timestamp columns fall back from their dictionary to DELTA_BINARY_PACKED instead of plain.
   */
  sortedColumns?: string[];
}

export type ChunkLayout = 'base' | 'delta';

export interface EncodedChunk {
  bytes: Uint8Array;
  rows: number;
  /** One entry per column, in schema order; integer-like values as decimal strings. */
  stats: Array<{ min: unknown; max: unknown; nullCount: number }>;
}

interface RawAddon {
  buildChunks(sources: Array<Buffer | ColumnsSource>, picks: Uint32Array | null, cuts: Uint32Array, opts: EncodeOptions | null): Promise<Array<{ bytes: Buffer; rows: number; stats: string }>>;
  decodeParquet(bytes: Buffer, columns: string[] | null, rows: Uint32Array | null): Promise<Buffer>;
  interleaveRows(sources: Buffer[], picks: Uint32Array, columns: string[] | null, groups: Uint32Array[] | null, groupOf: number[] | null): Promise<Buffer>;
}

/** Where the addon lives, from `src/table-format` and `dist/table-format` alike. */
export const CATALOG_ADDON_PATH = fileURLToPath(new URL('../../native/addon.node', import.meta.url));

let addon: RawAddon | undefined;
let loadError: Error | undefined;

function raw(): RawAddon {
  if (addon) return addon;
  if (loadError) throw addonUnavailable(loadError);
  try {
    addon = createRequire(import.meta.url)(CATALOG_ADDON_PATH) as RawAddon;
    return addon;
  } catch (err) {
    loadError = err as Error;
    throw addonUnavailable(loadError);
  }
}

function addonUnavailable(cause: Error): ArmillariaError {
  return new ArmillariaError(
    ErrorCode.Internal,
    `the catalog's native Parquet codec did not load from ${CATALOG_ADDON_PATH} (run scripts/build.mjs): ${cause.message}`,
    { cause },
  );
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Native failures are bugs or bad chunks, never user input (the TS layer validates first). */
function wrap(what: string, err: unknown): ArmillariaError {
  return new ArmillariaError(ErrorCode.Internal, `${what}: ${(err as Error).message}`, { cause: err });
}

const LAYOUTS: readonly string[] = ['base', 'delta'] satisfies ChunkLayout[];

export const nativeCodec: ParquetCodec = {
  async buildChunks(sources, picks, cuts, opts) {
    if (opts?.layout !== undefined && !LAYOUTS.includes(opts.layout)) {
      throw new InvalidArgumentError(`unknown chunk layout ${JSON.stringify(opts.layout)} (base or delta)`, { details: { layout: opts.layout } });
    }
    const out = await raw().buildChunks(sources.map((s) => (s instanceof Uint8Array ? asBuffer(s) : s)), picks, cuts, opts ?? null).catch((e: unknown) => {
      throw wrap('encoding Parquet chunks failed', e);
    });
    return out.map((c) => ({ bytes: c.bytes, rows: c.rows, stats: JSON.parse(c.stats) as EncodedChunk['stats'] }));
  },
  async decode(parquet, columns, rows) {
    return raw().decodeParquet(asBuffer(parquet), columns ? [...columns] : null, rows ?? null).catch((e: unknown) => {
      throw wrap('decoding a Parquet chunk failed', e);
    });
  },
  async interleave(sources, picks, columns, groups) {
    return raw().interleaveRows(sources.map(asBuffer), picks, columns ? [...columns] : null, groups ? [...groups.picks] : null, groups ? [...groups.of] : null).catch((e: unknown) => {
      throw wrap('interleaving rows failed', e);
    });
  },
};
