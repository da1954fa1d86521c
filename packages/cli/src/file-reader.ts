import { resolve } from 'node:path';
import { DuckDBInstance, DuckDBTypeId, JSDuckDBValueConverter, type DuckDBType } from '@duckdb/node-api';
import { InvalidArgumentError } from '@armillaria/core';
import {
  Binary, Bool, DateDay, Float32, Float64, Int16, Int32, Int64, Int8, Table, TimestampMicrosecond, Uint16, Uint32, Uint64, Uint8, Utf8,
  vectorFromArray, type DataType, type Vector,
} from 'apache-arrow';

export const FILE_FORMATS = ['csv', 'parquet', 'jsonl'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** The format named by `--format`, or else by the file's extension. */
export function fileFormat(path: string, given?: string): FileFormat {
  const f = (given ?? path.replace(/\.(gz|zst)$/, '').split('.').pop() ?? '').toLowerCase();
  const known = f === 'ndjson' || f === 'json' ? 'jsonl' : f;
  if (!(FILE_FORMATS as readonly string[]).includes(known)) {
    throw new InvalidArgumentError(`cannot tell the format of ${path}: give --format ${FILE_FORMATS.join('|')}`, { details: { field: 'format' } });
  }
  return known as FileFormat;
}

/**
 * Reads a CSV, Parquet or JSON-lines file with DuckDB and yields it as Arrow tables of about
 * `batchRows` rows, so a file larger than memory imports in bounded memory.
 */
export class FileReader {
  private constructor(private readonly instance: DuckDBInstance, private readonly source: string) {}

  static async open(path: string, format: FileFormat): Promise<FileReader> {
    // Only this file is readable: no network, no extension installs.
    const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    const lit = `'${resolve(path).replace(/'/g, "''")}'`;
    const source = format === 'csv' ? `read_csv(${lit}, auto_detect = true)` : format === 'parquet' ? `read_parquet(${lit})` : `read_json_auto(${lit}, format = 'newline_delimited')`;
    return new FileReader(instance, source);
  }

  /** Rows in the file (DuckDB counts them; for Parquet from the footer). */
  async count(): Promise<number> {
    const conn = await this.instance.connect();
    try {
      const r = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${this.source}`);
      return Number(r.getRowObjectsJS()[0]?.n ?? 0);
    } finally {
      conn.closeSync();
    }
  }

  async *batches(batchRows = 100_000): AsyncGenerator<Table> {
    const conn = await this.instance.connect();
    try {
      const result = await conn.stream(`SELECT * FROM ${this.source}`);
      const names = result.columnNames();
      const types = result.columnTypes().map(arrowType);
      let columns: unknown[][] = names.map(() => []);
      let rows = 0;
      const flush = (): Table => {
        const vectors: Record<string, Vector> = {};
        names.forEach((n, i) => (vectors[n] = vectorFromArray(columns[i] as unknown[], types[i]!.arrow)));
        columns = names.map(() => []);
        rows = 0;
        return new Table(vectors);
      };
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const cols = chunk.convertColumns(JSDuckDBValueConverter);
        cols.forEach((col, i) => {
          const t = types[i]!;
          const target = columns[i]!;
          for (const v of col) target.push(v === null ? null : t.convert(v));
        });
        rows += chunk.rowCount;
        if (rows >= batchRows) yield flush();
      }
      if (rows > 0) yield flush();
    } finally {
      conn.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}

interface ColumnMapping {
  arrow: DataType;
  convert(v: unknown): unknown;
}

const same = (v: unknown): unknown => v;

/** DuckDB column type -> one of the table format's column types (others become text). */
function arrowType(t: DuckDBType): ColumnMapping {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: return { arrow: new Bool(), convert: same };
    case DuckDBTypeId.TINYINT: return { arrow: new Int8(), convert: same };
    case DuckDBTypeId.SMALLINT: return { arrow: new Int16(), convert: same };
    case DuckDBTypeId.INTEGER: return { arrow: new Int32(), convert: same };
    case DuckDBTypeId.BIGINT: return { arrow: new Int64(), convert: (v) => BigInt(v as bigint) };
    case DuckDBTypeId.UTINYINT: return { arrow: new Uint8(), convert: same };
    case DuckDBTypeId.USMALLINT: return { arrow: new Uint16(), convert: same };
    case DuckDBTypeId.UINTEGER: return { arrow: new Uint32(), convert: same };
    case DuckDBTypeId.UBIGINT: return { arrow: new Uint64(), convert: (v) => BigInt(v as bigint) };
    case DuckDBTypeId.FLOAT: return { arrow: new Float32(), convert: same };
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL: return { arrow: new Float64(), convert: (v) => Number(v) };
    case DuckDBTypeId.VARCHAR: return { arrow: new Utf8(), convert: same };
    case DuckDBTypeId.BLOB: return { arrow: new Binary(), convert: same };
    case DuckDBTypeId.DATE: return { arrow: new DateDay(), convert: (v) => (v instanceof Date ? v : new Date(String(v))) };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ: return { arrow: new TimestampMicrosecond(), convert: (v) => (v instanceof Date ? v.getTime() : Number(v)) };
    default: return { arrow: new Utf8(), convert: (v) => (typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))) };
  }
}
