import { ErrorCode, InvalidArgumentError, type ArmillariaError, type Hash } from '@armillaria/core';
import { CatalogNotFoundError, PrimaryKeyRequiredError, TableExistsError, withTableName, type ColumnType, type KeptCells, type TableFormat } from '@armillaria/catalog';
import { Table } from 'apache-arrow';
import type { TreeEntry } from './catalog-port.js';
import { keysOf, keyString, keyTableOf, schemaFromManifest, schemaFromSpec, toArrowTable, upsertRowsOf } from './rows.js';
import type { CreateTableInTxn, Rows } from './txn-api.js';

/** One staged operation, kept (with its rows as Arrow) so a rebase can replay it on a newer head. */
export type StagedOp =
  | { kind: 'create'; rows: Table; primaryKey?: string[] }
  | { kind: 'drop' }
  | { kind: 'write'; rows: Table }
  | { kind: 'append'; rows: Table }
  /** `kept`: cells the rows do not give, filled from the table when applied (a partial upsert). */
  | { kind: 'upsert'; rows: Table; kept?: KeptCells }
  | { kind: 'delete'; keys: Table }
  | { kind: 'addColumn'; column: { name: string; type: ColumnType; defaultValue?: unknown } };

export type OpKind = StagedOp['kind'];

/** Ops that replace or reshape the whole table: they conflict with any concurrent change to it. */
export const WHOLE_TABLE_OPS: ReadonlySet<OpKind> = new Set(['create', 'drop', 'write', 'addColumn']);

/** A table as one transaction sees it. */
export interface StagedTable {
  /** The entry in the tree the ops were (re)applied on; undefined if the table did not exist there. */
  base: TreeEntry | undefined;
  /** The table after the ops; null when absent (dropped, or never there). */
  manifest: Hash | null;
  ops: StagedOp[];
  /** Primary keys written or deleted (keyed tables), by `keyString`. */
  keys: Map<string, unknown[]>;
  /**
   * Keys only partial upserts wrote: the non-key columns they gave (kept cells excluded). A key of
   * `keys` absent here was written whole (or deleted). A concurrent update of other columns of such a
   * key does not conflict: replaying the partial upsert keeps them.
   */
  columns?: Map<string, Set<string>>;
}

export function tableNotFound(table: string): ArmillariaError {
  return new CatalogNotFoundError(ErrorCode.TableNotFound, `table ${table} does not exist in this transaction's view`, { table });
}

export { assertTableName } from '@armillaria/catalog';

/** Turns a call's input into a replayable op, converting plain rows with the table's current schema. */
export async function prepareOp(
  format: TableFormat,
  current: Hash | null,
  table: string,
  kind: Exclude<OpKind, 'create' | 'drop' | 'addColumn'>,
  rows: Rows,
): Promise<StagedOp> {
  if (current === null) throw tableNotFound(table);
  const manifest = await format.readManifest(current);
  if (kind === 'delete') {
    if (!manifest.primaryKey?.length) throw new PrimaryKeyRequiredError(table, 'delete');
    return { kind, keys: keyTableOf(rows, manifest) };
  }
  if (kind === 'upsert') {
    const given = upsertRowsOf(rows, manifest);
    return given.kept ? { kind, rows: given.rows, kept: given.kept } : { kind, rows: given.rows };
  }
  return { kind, rows: toArrowTable(rows, schemaFromManifest(manifest)) };
}

export function createOp(table: string, opts: CreateTableInTxn): StagedOp {
  const primaryKey = opts.primaryKey ? [...opts.primaryKey] : undefined;
  if (primaryKey && (!Array.isArray(primaryKey) || !primaryKey.every((c) => typeof c === 'string' && c))) {
    throw new InvalidArgumentError('primaryKey must be a list of column names', { details: { table } });
  }
  let rows: Table;
  if (opts.schema) rows = toArrowTable(opts.rows ?? [], schemaFromSpec(opts.schema));
  else if (opts.rows instanceof Table) rows = opts.rows;
  else throw new InvalidArgumentError(`createTable ${table} needs a schema (or rows as an Arrow table)`, { details: { table } });
  return primaryKey ? { kind: 'create', rows, primaryKey } : { kind: 'create', rows };
}

/** Applies one op to `current` through the table format (which uploads chunks and manifest). */
export async function applyOp(format: TableFormat, repo: string, table: string, current: Hash | null, op: StagedOp): Promise<Hash | null> {
  try {
    return await applyFormatOp(format, repo, table, current, op);
  } catch (err) {
    throw withTableName(err, table);
  }
}

async function applyFormatOp(format: TableFormat, repo: string, table: string, current: Hash | null, op: StagedOp): Promise<Hash | null> {
  if (op.kind === 'create') {
    if (current !== null) throw new TableExistsError(repo, table);
    return (await format.write(op.rows, op.primaryKey ? { primaryKey: op.primaryKey } : {})).manifest;
  }
  if (current === null) throw tableNotFound(table);
  switch (op.kind) {
    case 'drop':
      return null;
    case 'write': {
      const manifest = await format.readManifest(current);
      return (await format.write(op.rows, { previous: current, ...(manifest.primaryKey ? { primaryKey: manifest.primaryKey } : {}) })).manifest;
    }
    case 'append':
      return (await format.append(current, op.rows)).manifest;
    case 'upsert':
      return (await format.upsert(current, op.rows, op.kept ? { kept: op.kept } : {})).manifest;
    case 'delete':
      return (await format.deleteKeys(current, op.keys)).manifest;
    case 'addColumn':
      return (await format.addColumn(current, op.column)).manifest;
  }
}

/**
 * Records the keys an op touches (keyed tables only), for key-level conflict checks, and for keys only
 * partial upserts touched, the columns they wrote (see StagedTable.columns).
 */
export async function noteKeys(format: TableFormat, state: StagedTable, op: StagedOp): Promise<void> {
  if (state.manifest === null) return;
  const manifest = await format.readManifest(state.manifest);
  const pk = manifest.primaryKey;
  if (!pk?.length) return;
  const rows = op.kind === 'delete' ? op.keys : op.kind === 'upsert' || op.kind === 'append' || op.kind === 'write' ? op.rows : undefined;
  if (!rows) return;
  const given = op.kind === 'upsert' ? givenColumns(op, manifest.schema.fields.map((f) => f.name), pk) : undefined;
  keysOf(rows, pk).forEach((key, r) => {
    const k = keyString(key);
    const cols = given?.(r);
    const partial = state.columns?.get(k);
    if (cols && (!state.keys.has(k) || partial)) {
      state.columns ??= new Map();
      state.columns.set(k, new Set([...(partial ?? []), ...cols]));
    } else if (!cols) {
      state.columns?.delete(k);
    }
    state.keys.set(k, key);
  });
}

/**
 * Per row of a partial upsert, the non-key columns it writes (the rows' columns minus its kept cells);
 * undefined when the upsert writes whole rows.
 */
function givenColumns(op: Extract<StagedOp, { kind: 'upsert' }>, names: readonly string[], pk: readonly string[]): ((row: number) => string[]) | undefined {
  const nonKey = names.filter((n) => !pk.includes(n));
  const present = nonKey.filter((n) => op.rows.getChild(n));
  if (present.length === nonKey.length && !op.kept) return undefined;
  return (row) => present.filter((c) => op.kept?.[c]?.[row] !== 1);
}
