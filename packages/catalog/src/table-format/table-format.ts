import type { Hash } from '@armillaria/core';
import type { Table, Schema } from 'apache-arrow';
import type { DeferredWrites } from './chunk-sink.js';

/**
 * How one table version is stored: rows in deterministic Parquet chunks, described by a manifest that
 * is itself stored as chunks (canonical JSON, paged as a Merkle tree for large tables).
 *
 * Keyed tables (primaryKey given) are kept sorted by key and cut into chunks where a hash of the key
 * meets a target (prolly-tree style), so a change rewrites only the chunks around it and every other
 * chunk keeps its hash. Unkeyed tables append new chunks and keep all old ones.
 *
 * Every method is deterministic: the same logical input gives the same manifest hash. A method that
 * writes returns once every blob of the new version is stored, so the manifest hash can be committed,
 * except on a view from `deferringWrites`, whose owner waits for them instead.
 */
export interface TableFormat {
  /** Writes `rows` as a whole new version (overwrite). Throws DuplicateKeyError for repeated keys. */
  write(rows: Table, opts: { primaryKey?: readonly string[]; previous?: Hash }): Promise<WriteResult>;
  /** Adds rows; keyed tables treat this as insert-only (existing key: DuplicateKeyError). */
  append(previous: Hash, rows: Table): Promise<WriteResult>;
  /**
   * Inserts or replaces rows by primary key (PrimaryKeyRequiredError on unkeyed tables). A partial
   * upsert updates only some columns: a non-key column `rows` lacks, and every cell `opts.kept` marks,
   * keeps the value the version holds for that key (a new key gets null there; SCHEMA_MISMATCH when the
   * column is not nullable). `rows` must hold the key columns.
   */
  upsert(previous: Hash, rows: Table, opts?: UpsertOptions): Promise<WriteResult>;
  /** Removes rows whose key appears in `keys` (a table holding at least the key columns); absent keys are ignored. */
  deleteKeys(previous: Hash, keys: Table): Promise<WriteResult>;
  /** Schema evolution: a new nullable column, null (or `defaultValue`) in existing rows. */
  addColumn(previous: Hash, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<WriteResult>;
  /**
   * Optional: a view of this format whose writing methods start their blob writes in `writes` and
   * return without waiting for them; the caller must `writes.settle()` before anything names the
   * versions they return (the catalog writes a change's table blobs, tree and commit in one round).
   */
  deferringWrites?(writes: DeferredWrites): TableFormat;

  readManifest(manifest: Hash): Promise<Manifest>;
  /** The rows of a version, optionally only some columns and only chunks whose stats may match. */
  read(manifest: Hash, opts?: ReadOptions): Promise<Table>;
  /**
   * Every data chunk of a version (resolving manifest pages): the base chunks in table order, then the
   * delta's chunks. GC reachability, verify and caches rely on it listing all of them.
   */
  chunks(manifest: Hash): Promise<ChunkInfo[]>;
  /**
   * How a version is laid out, for readers that query the chunk files directly (SQL views): base chunks
   * and, for a keyed table with pending changes, the delta chunks that override them by key.
   */
  layout(manifest: Hash): Promise<TableLayout>;
  /**
   * The same rows, laid out for reading. A keyed table's delta is folded into its base chunks (prolly
   * re-chunking only around the changed keys): the result is the manifest a full `write` of the logical
   * rows gives. An unkeyed table's runs of small chunks (one per small append) are rewritten as chunks of
   * the target size, rows in the same order; other chunks keep their hashes. Already compact: returns
   * `manifest` (compacting twice changes nothing).
   */
  compact(manifest: Hash): Promise<WriteResult>;

  /** Chunk-level difference; cost follows the number of differing manifest pages. */
  diffChunks(from: Hash | null, to: Hash | null): Promise<ChunkDiff>;
  /**
   * Row-level difference by primary key (or by row position for unkeyed tables), decoding only the
   * chunks that differ. `keyColumns` overrides the table's key.
   */
  diffRows(from: Hash | null, to: Hash | null, opts?: { keyColumns?: readonly string[] }): Promise<RowDiff>;
}

/** Arrow type names accepted in manifests and `addColumn`. */
export type ColumnType =
  | 'bool' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'float32' | 'float64' | 'utf8' | 'binary' | 'date32' | 'timestamp_ms' | 'timestamp_us';

export interface ColumnStats {
  /** JSON-safe min/max (bigint as decimal string, dates as ISO strings); null when all null. */
  min: unknown;
  max: unknown;
  nullCount: number;
}

export interface ChunkInfo {
  hash: Hash;
  rows: number;
  bytes: number;
  stats: Record<string, ColumnStats>;
  /** Keyed tables: first and last key of the chunk (JSON-safe, one element per key column). */
  firstKey?: unknown[];
  lastKey?: unknown[];
}

export interface Manifest {
  /**
   * 1: base chunks only; 2: base chunks plus a `delta` (merge-on-read) of whole rows; 3: a delta whose
   * chunks also carry DELTA_UNCHANGED_COLUMN (a delta row may keep some of its base row's values); 4: a
   * version-3 delta held as several sorted runs (`DeltaRef.runs`).
   */
  formatVersion: 1 | 2 | 3 | 4;
  schema: { fields: Array<{ name: string; type: ColumnType; nullable: boolean }> };
  primaryKey?: string[];
  /**
   * Target rows per chunk the table was chunked with; edits keep using it so boundaries stay put
   * whatever the writer's default. Optional for compatibility (absent: the writer's setting).
   */
  targetChunkRows?: number;
  rows: number;
  bytes: number;
  /** Small tables list their chunks inline; large ones point to pages (Merkle tree of chunk lists). */
  chunks?: ChunkInfo[];
  pages?: PageRef[];
  /**
   * Keyed tables only: changed rows not yet folded into the base chunks (merge-on-read). One sorted,
   * prolly-chunked run by key (formatVersion 2, 3), or several (4, `DeltaRef.runs`, oldest first: a key's
   * row in the newest run holding it wins); each key appears once per run; its rows override base rows
   * with the same key.
   * Delta chunks hold the table's columns plus DELTA_DELETED_COLUMN (true: a tombstone, only the key set)
   * and, from formatVersion 3, DELTA_UNCHANGED_COLUMN before it (which columns keep the base row's value).
   * With a delta, `rows` is the logical row count and `bytes` counts base and delta chunks.
   */
  delta?: DeltaRef;
}

/** A page of a paged chunk list (see FORMAT.md). */
export interface PageRef {
  hash: Hash;
  rows: number;
  chunks: number;
  firstKey?: unknown[];
  lastKey?: unknown[];
}

export interface DeltaRef {
  /** Rows in the delta chunks, tombstones included (of every run: a key held by several counts once per run). */
  rows: number;
  /** Tombstones among them. */
  deletes: number;
  bytes: number;
  /** One run (formatVersion 2, 3): its chunks. */
  chunks?: ChunkInfo[];
  pages?: PageRef[];
  /** Several runs (formatVersion 4, at least two), oldest first; then neither `chunks` nor `pages`. */
  runs?: DeltaRunRef[];
}

/** One sorted run of a formatVersion-4 delta: rows and tombstones of its chunks, listed inline or paged. */
export interface DeltaRunRef {
  rows: number;
  deletes: number;
  bytes: number;
  chunks?: ChunkInfo[];
  pages?: PageRef[];
}

/** The reserved column of delta chunks that marks tombstones; no table may have a column of this name. */
export const DELTA_DELETED_COLUMN = '__arm_deleted';

/**
 * The reserved utf8 column of formatVersion-3 delta chunks for column-level updates: null when the delta
 * row holds every column; else one character per table column in schema order, '1' where the row keeps
 * its base row's value (the delta stores null there) and '0' where the delta holds the value. Only a
 * live row whose key the base holds can keep base values. No table may have a column of this name.
 */
export const DELTA_UNCHANGED_COLUMN = '__arm_unchanged';

export interface TableLayout {
  /** Base chunks in table order. */
  base: ChunkInfo[];
  /**
   * Pending changes (keyed tables): the logical table is the base rows whose key is in no delta chunk,
   * plus the delta rows whose `deletedColumn` is false. Never prune delta chunks by non-key stats: a delta
   * row hides its base row whatever its values.
   */
  delta?: {
    /** Every delta chunk: each run's chunks in key order, runs oldest first. */
    chunks: ChunkInfo[];
    /**
     * Several runs (formatVersion 4): the index in `chunks` where each run starts (the first is 0). A key
     * may then be in several runs: its row in the newest wins, so a reader keeping a delta chunk must
     * also read every chunk of a newer run overlapping its key range. Absent: one run.
     */
    runStarts?: number[];
    deletedColumn: string;
    /**
     * Set when delta rows may keep base values (DELTA_UNCHANGED_COLUMN): such a row's value of column i
     * is its base row's where character i of this column is '1'. Stats of delta chunks then say nothing
     * about those values, so delta chunks must not be pruned by non-key stats either.
     */
    unchangedColumn?: string;
    rows: number;
    deletes: number;
  };
  keyColumns?: string[];
}

export interface WriteResult {
  manifest: Hash;
  /** Rows of the new version. */
  rows: number;
  /** Data chunks of the new version that were new to the chunk store. */
  chunksWritten: number;
  /** Data chunks of the new version the store already held (unchanged ones, or equal content elsewhere). */
  chunksReused: number;
  /** Bytes uploaded: new data chunks plus new manifest and manifest-page chunks. */
  bytesWritten: number;
}

export interface UpsertOptions {
  /**
   * Cells that keep the stored value, per non-key column: a byte per row of the upsert's rows, 1 where
   * the row gives no value for the column (a plain object without that property) and keeps its key's
   * stored value, 0 where the row's value (null included) is written.
   */
  kept?: KeptCells;
}

/** Per non-key column, 1 for each row (in input order) whose value is not given: see UpsertOptions. */
export type KeptCells = Readonly<Record<string, Uint8Array>>;

export interface ReadOptions {
  columns?: readonly string[];
  /** Chunk pruning: only chunks whose min/max may contain a value in [min, max] for this column. */
  range?: { column: string; min?: unknown; max?: unknown };
}

export interface ChunkDiff {
  added: ChunkInfo[];
  removed: ChunkInfo[];
}

export interface RowDiff {
  keyColumns: string[];
  /** Plain JS objects, one per row. */
  added: Array<Record<string, unknown>>;
  removed: Array<Record<string, unknown>>;
  changed: Array<{ key: unknown[]; before: Record<string, unknown>; after: Record<string, unknown> }>;
}

export type { Schema };
