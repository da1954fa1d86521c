import type { ColumnType } from '@armillaria/catalog';

const duckType: Record<ColumnType, string> = {
  bool: 'BOOLEAN', int8: 'TINYINT', int16: 'SMALLINT', int32: 'INTEGER', int64: 'BIGINT',
  uint8: 'UTINYINT', uint16: 'USMALLINT', uint32: 'UINTEGER', uint64: 'UBIGINT',
  float32: 'FLOAT', float64: 'DOUBLE', utf8: 'VARCHAR', binary: 'BLOB', date32: 'DATE',
  timestamp_ms: 'TIMESTAMP_MS', timestamp_us: 'TIMESTAMP',
};

export const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;
const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * A connection-local view for one table version: its cached Parquet chunks, or (no chunk left) a typed
 * empty relation with the manifest's columns, so queries bind the same way whatever pruning kept.
 */
export function viewSql(table: string, fields: ReadonlyArray<{ name: string; type: ColumnType }>, paths: readonly string[]): string {
  const cols = fields.map((f) => ident(f.name)).join(', ');
  const body = paths.length > 0
    ? `SELECT ${cols} FROM read_parquet([${paths.map(literal).join(', ')}])`
    : `SELECT ${fields.map((f) => `CAST(NULL AS ${duckType[f.type] ?? 'VARCHAR'}) AS ${ident(f.name)}`).join(', ')} WHERE false`;
  return `CREATE OR REPLACE TEMP VIEW ${ident(table)} AS ${body}`;
}
