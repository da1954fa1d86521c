import type { AsOf } from '@armillaria/catalog';
import type { Table } from 'apache-arrow';

/** One column of a result: its name and DuckDB type name (`BIGINT`, `VARCHAR`, `DOUBLE`, …). */
export interface QueryColumn {
  name: string;
  type: string;
}

/** A table a query read, at the version it read. */
export interface QueryTableRead {
  table: string;
  version: number;
  commit: string;
  manifest: string;
  /** Chunks of that version, and how many survived pruning by column stats and were read. */
  chunks: number;
  chunksRead: number;
}

/**
 * A query's answer. `rows` are JSON-safe plain objects (BIGINT as a number when within ±2^53-1, else a
 * decimal string; DATE `YYYY-MM-DD`; TIMESTAMP ISO string; BLOB base64), identical in both modes.
 */
export interface QueryResult<Row = Record<string, unknown>> {
  readonly columns: readonly QueryColumn[];
  readonly rows: Row[];
  readonly tables: readonly QueryTableRead[];
  /** The result as an Arrow table (typed columns). */
  toArrow(): Table;
}

/** What the engine (local or behind the gateway) takes. */
export interface EngineQueryOptions {
  branch?: string;
  ref?: string;
  asOf?: AsOf;
  versions?: Record<string, number>;
  timeoutMs?: number;
  maxRows?: number;
}
