import type { ColumnType } from '@armillaria/catalog';

const duckType: Record<ColumnType, string> = {
  bool: 'BOOLEAN', int8: 'TINYINT', int16: 'SMALLINT', int32: 'INTEGER', int64: 'BIGINT',
  uint8: 'UTINYINT', uint16: 'USMALLINT', uint32: 'UINTEGER', uint64: 'UBIGINT',
  float32: 'FLOAT', float64: 'DOUBLE', utf8: 'VARCHAR', binary: 'BLOB', date32: 'DATE',
  timestamp_ms: 'TIMESTAMP_MS', timestamp_us: 'TIMESTAMP',
};

export const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;
export const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** A keyed table version's delta files (merge-on-read): rows overriding base rows by key. */
export interface DeltaFiles {
  /** Every delta file: the anti-join hides the base rows of all their keys (never pruned by stats). */
  paths: readonly string[];
  /** The delta files whose stats may match the query: the source of the delta's live rows. */
  livePaths: readonly string[];
  keyColumns: readonly string[];
  /** Boolean column of the delta files; true marks a tombstone. */
  deletedColumn: string;
  /**
   * Column-level updates (formatVersion-3 deltas with partial rows): the delta files' mask column, one
   * character per table column, '1' where a row keeps its base row's value. The base files given must
   * then hold the base row of every partial row the query may see.
   */
  unchangedColumn?: string;
  /**
   * A delta of several sorted runs (formatVersion 4): the run of each file of `paths` and of `livePaths`
   * (0 oldest). A key may then have a row in several runs, and only the newest counts: the view takes a
   * delta row only if no file of a newer run holds its key (`paths` must hold every file of a newer run
   * overlapping a file read). Absent: one run.
   */
  runs?: { paths: readonly number[]; livePaths: readonly number[] };
}

/** The column a view tags delta rows with their run (not a table column: reserved names start with __arm_). */
const RUN_COLUMN = '__arm_run';

/**
 * A connection-local view for one table version: its cached Parquet chunks, or (no chunk left) a typed
 * empty relation with the manifest's columns, so queries bind the same way whatever pruning kept.
 *
 * With a delta, the view is the merge: base rows whose key is in no delta file (an anti-join on every key
 * column against all delta files, which are never pruned by stats), plus the delta rows that are not
 * tombstones (from the delta files pruning kept). DuckDB pushes a query's filters into both sides, which
 * is correct for a delta row that moved its key into or out of a range. A delta row keeping some base
 * values (column-level update) is joined with its base row by key and takes those values from it.
 * Without a delta the view stays a plain `read_parquet`.
 */
export function viewSql(table: string, fields: ReadonlyArray<{ name: string; type: ColumnType }>, paths: readonly string[], delta?: DeltaFiles): string {
  return `CREATE OR REPLACE TEMP VIEW ${ident(table)} AS ${viewSelect(fields, paths, delta)}`;
}

/** The SELECT a `viewSql` view stands for (the compactor copies a version's rows with it). */
export function viewSelect(fields: ReadonlyArray<{ name: string; type: ColumnType }>, paths: readonly string[], delta?: DeltaFiles): string {
  const cols = fields.map((f) => ident(f.name)).join(', ');
  const files = (ps: readonly string[]): string => `read_parquet([${ps.map(literal).join(', ')}])`;
  if (delta && delta.paths.length > 0 && (paths.length > 0 || delta.livePaths.length > 0)) {
    const on = delta.keyColumns.map((k) => `b.${ident(k)} = d.${ident(k)}`).join(' AND ');
    const deleted = (alias: string): string => `${alias}${ident(delta.deletedColumn)}`;
    const runs = delta.runs && new Set(delta.runs.paths).size > 1 ? delta.runs : undefined;
    // The delta rows that count, from the given files: with several runs, those no newer run overrides.
    const deltaRows = (ps: readonly string[], of: readonly number[] | undefined): string => (runs ? newestRows(fields, delta, ps, of!, files) : files(ps));
    if (delta.unchangedColumn !== undefined) return partialViewSelect(fields, paths, delta, deltaRows, on, deleted);
    const parts: string[] = [];
    if (paths.length > 0) {
      parts.push(`SELECT ${fields.map((f) => `b.${ident(f.name)}`).join(', ')} FROM ${files(paths)} AS b ANTI JOIN ${files(delta.paths)} AS d ON ${on}`);
    }
    if (delta.livePaths.length > 0) parts.push(`SELECT ${cols} FROM ${deltaRows(delta.livePaths, runs?.livePaths)} WHERE NOT ${deleted('')}`);
    return parts.join(' UNION ALL ');
  }
  return paths.length > 0
    ? `SELECT ${cols} FROM ${files(paths)}`
    : `SELECT ${fields.map((f) => `CAST(NULL AS ${duckType[f.type] ?? 'VARCHAR'}) AS ${ident(f.name)}`).join(', ')} WHERE false`;
}

/**
 * The merge with column-level updates, reading the base once: each base row left-joined with its delta
 * row (tombstones drop it; a whole delta row replaces it; a partial one replaces the columns its mask
 * marks '0'), plus the live whole delta rows whose key no base file read holds (inserts, and updates of
 * base rows in chunks pruning dropped: emitted once either way, since both parts see the same base
 * files). `paths` must hold the base row of every partial delta row the query may see.
 */
function partialViewSelect(
  fields: ReadonlyArray<{ name: string; type: ColumnType }>,
  paths: readonly string[],
  delta: DeltaFiles,
  deltaRows: (ps: readonly string[], runs: readonly number[] | undefined) => string,
  on: string,
  deleted: (alias: string) => string,
): string {
  const files = (ps: readonly string[]): string => `read_parquet([${ps.map(literal).join(', ')}])`;
  const u = `d.${ident(delta.unchangedColumn!)}`;
  const matched = `d.${ident(delta.keyColumns[0]!)}`;
  const parts: string[] = [];
  if (paths.length > 0) {
    const pick = fields.map((f, i) => {
      const c = ident(f.name);
      if (delta.keyColumns.includes(f.name)) return `b.${c}`;
      return `CASE WHEN ${matched} IS NULL OR substr(coalesce(${u}, ''), ${i + 1}, 1) = '1' THEN b.${c} ELSE d.${c} END AS ${c}`;
    });
    parts.push(`SELECT ${pick.join(', ')} FROM ${files(paths)} AS b LEFT JOIN ${deltaRows(delta.paths, delta.runs?.paths)} AS d ON ${on} WHERE ${matched} IS NULL OR NOT ${deleted('d.')}`);
  }
  if (delta.livePaths.length > 0) {
    const whole = `NOT ${deleted('d.')} AND ${u} IS NULL`;
    const cols = fields.map((f) => `d.${ident(f.name)}`).join(', ');
    const live = deltaRows(delta.livePaths, delta.runs?.livePaths);
    parts.push(paths.length > 0
      ? `SELECT ${cols} FROM ${live} AS d ANTI JOIN ${files(paths)} AS b ON ${on} WHERE ${whole}`
      : `SELECT ${cols} FROM ${live} AS d WHERE ${whole}`);
  }
  return parts.join(' UNION ALL ');
}

/**
 * The rows of delta files `ps` (runs `of`) that no file of a newer run among all of `delta.paths` holds
 * the key of: with several runs, a key's row in the newest run holding it is its delta row. A subquery
 * with the delta files' columns (table columns, then the mask and tombstone columns), one anti-join on
 * the key with a newer-run condition.
 */
function newestRows(fields: ReadonlyArray<{ name: string }>, delta: DeltaFiles, ps: readonly string[], of: readonly number[], files: (ps: readonly string[]) => string): string {
  const tagged = (paths: readonly string[], runs: readonly number[]): string => {
    const byRun = new Map<number, string[]>();
    paths.forEach((p, i) => byRun.set(runs[i]!, [...(byRun.get(runs[i]!) ?? []), p]));
    return `(${[...byRun].map(([run, list]) => `SELECT *, ${run} AS ${RUN_COLUMN} FROM ${files(list)}`).join(' UNION ALL ')})`;
  };
  const columns = [...fields.map((f) => f.name), ...(delta.unchangedColumn !== undefined ? [delta.unchangedColumn] : []), delta.deletedColumn];
  const on = [...delta.keyColumns.map((k) => `r.${ident(k)} = n.${ident(k)}`), `n.${RUN_COLUMN} > r.${RUN_COLUMN}`].join(' AND ');
  return `(SELECT ${columns.map((c) => `r.${ident(c)}`).join(', ')} FROM ${tagged(ps, of)} AS r ANTI JOIN ${tagged(delta.paths, delta.runs!.paths)} AS n ON ${on})`;
}
