import { DuckDBTypeId } from '@duckdb/node-api';
import {
  Binary, Bool, DateDay, Float32, Float64, Int16, Int32, Int64, Int8, Table, TimestampMillisecond, Uint16, Uint32, Uint64, Uint8, Utf8,
  tableToIPC, vectorFromArray, type DataType, type Vector,
} from 'apache-arrow';
import { jsonValue } from './json-values.js';

export interface ResultColumn {
  name: string;
  /** DuckDB's type name (BIGINT, VARCHAR, DECIMAL(18,3), STRUCT(...), ...). */
  type: string;
}

/** A JSON-safe row (see `jsonValue` for the value mapping). */
export type JsonRow = Record<string, unknown>;

/** What one query read of one table. */
export interface TableRead {
  table: string;
  version: number;
  commit: string;
  manifest: string;
  /** Chunks in this version. */
  chunks: number;
  /** Chunks left after pruning by column stats (the ones the query read). */
  chunksRead: number;
  /** Of those, fetched from the chunk store now (the rest came from the local cache). */
  chunksFetched: number;
  /** Read from the version's compacted file (engine option `compaction`) instead of the chunk files. */
  compacted: boolean;
}

/** Where a query's time went (ms): parsing and checks, catalog lookups + pruning, chunk fetching, view creation, execution + conversion. */
export interface QueryTimings {
  parseMs: number;
  resolveMs: number;
  fetchMs: number;
  viewMs: number;
  executeMs: number;
}

export interface QueryResult {
  columns: ResultColumn[];
  rows: JsonRow[];
  rowCount: number;
  tables: TableRead[];
  timings: QueryTimings;
  /** The rows as an Arrow table (typed columns; types Arrow JS lacks become UTF-8 JSON text). */
  toArrow(): Table;
  /** `toArrow()` as an Arrow IPC stream. */
  toArrowIPC(): Uint8Array;
}

/** Columns collected from DuckDB, chunk by chunk, as JS values. */
export class ResultBuilder {
  readonly rows: JsonRow[] = [];
  private readonly columns: unknown[][];
  bytes = 0;

  constructor(readonly meta: ReadonlyArray<ResultColumn & { typeId: DuckDBTypeId }>) {
    this.columns = meta.map(() => []);
  }

  /** Adds one chunk of columns; returns the JSON size of the rows added (what the byte limit counts). */
  add(chunkColumns: ReadonlyArray<readonly unknown[]>, rowCount: number): number {
    let added = 0;
    for (let r = 0; r < rowCount; r++) {
      const row: JsonRow = {};
      for (let c = 0; c < this.meta.length; c++) {
        const m = this.meta[c]!;
        const v = chunkColumns[c]![r];
        this.columns[c]!.push(v);
        row[m.name] = jsonValue(v, m.typeId === DuckDBTypeId.DATE);
      }
      added += JSON.stringify(row).length + 1;
      this.rows.push(row);
    }
    this.bytes += added;
    return added;
  }

  toArrow(): Table {
    const vectors: Record<string, Vector> = {};
    this.meta.forEach((m, c) => {
      vectors[m.name] = arrowVector(m.typeId, this.columns[c]!);
    });
    return new Table(vectors);
  }
}

const SIMPLE: Partial<Record<DuckDBTypeId, () => DataType>> = {
  [DuckDBTypeId.BOOLEAN]: () => new Bool(),
  [DuckDBTypeId.TINYINT]: () => new Int8(),
  [DuckDBTypeId.SMALLINT]: () => new Int16(),
  [DuckDBTypeId.INTEGER]: () => new Int32(),
  [DuckDBTypeId.BIGINT]: () => new Int64(),
  [DuckDBTypeId.UTINYINT]: () => new Uint8(),
  [DuckDBTypeId.USMALLINT]: () => new Uint16(),
  [DuckDBTypeId.UINTEGER]: () => new Uint32(),
  [DuckDBTypeId.UBIGINT]: () => new Uint64(),
  [DuckDBTypeId.FLOAT]: () => new Float32(),
  [DuckDBTypeId.DOUBLE]: () => new Float64(),
  [DuckDBTypeId.DECIMAL]: () => new Float64(),
  [DuckDBTypeId.VARCHAR]: () => new Utf8(),
  [DuckDBTypeId.BLOB]: () => new Binary(),
};

function arrowVector(typeId: DuckDBTypeId, values: unknown[]): Vector {
  const simple = SIMPLE[typeId];
  if (simple) return vectorFromArray(values as never[], simple());
  if (typeId === DuckDBTypeId.DATE) return vectorFromArray(values.map((v) => (v instanceof Date ? v : null)), new DateDay());
  if (typeId === DuckDBTypeId.TIMESTAMP || typeId === DuckDBTypeId.TIMESTAMP_MS || typeId === DuckDBTypeId.TIMESTAMP_S || typeId === DuckDBTypeId.TIMESTAMP_NS || typeId === DuckDBTypeId.TIMESTAMP_TZ) {
    return vectorFromArray(values.map((v) => (v instanceof Date ? v.getTime() : null)), new TimestampMillisecond());
  }
  return vectorFromArray(values.map((v) => {
    if (v === null || v === undefined) return null;
    const j = jsonValue(v);
    return typeof j === 'string' ? j : JSON.stringify(j);
  }), new Utf8());
}

export function arrowIPC(table: Table): Uint8Array {
  return tableToIPC(table, 'stream');
}
