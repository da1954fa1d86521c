import { ErrorCode, isArmillariaError } from '@armillaria/core';
import { tableToRows, toArrowTable, type Rows } from '@armillaria/catalog';
import type { StageResult, TxnApi, TxnInfo } from '@armillaria/txn-coordinator';
import type { Table } from 'apache-arrow';

/** What a staged write reports: the table's row count in the transaction's view. */
export interface StagedWrite {
  table: string;
  rows: number;
  /** This call created the table. */
  created: boolean;
}

/**
 * The handle `Armillaria.transaction` passes to its callback. Reads see the snapshot pinned at begin
 * plus this transaction's own writes; nothing is visible to others until the callback returns and the
 * commit succeeds. Writes name tables like the top-level API, and create missing tables the same way.
 */
export class Transaction {
  /** @internal */
  constructor(private readonly api: TxnApi, readonly info: TxnInfo) {}

  get id(): string {
    return this.info.id;
  }

  /** Overwrite (creating the table from `rows` when absent, with `primaryKey` if given). */
  writeTable(table: string, rows: Rows, opts: { primaryKey?: readonly string[] } = {}): Promise<StagedWrite> {
    return this.orCreate(table, rows, opts.primaryKey, () => this.api.write(this.id, table, rows));
  }

  /** Blind append (insert-only on keyed tables); creates an absent table. */
  appendRows(table: string, rows: Rows, opts: { primaryKey?: readonly string[] } = {}): Promise<StagedWrite> {
    return this.orCreate(table, rows, opts.primaryKey, () => this.api.append(this.id, table, rows));
  }

  /** Insert or replace by primary key; creates an absent table only when `primaryKey` is given. */
  upsert(table: string, rows: Rows, opts: { primaryKey?: readonly string[] } = {}): Promise<StagedWrite> {
    return this.orCreate(table, rows, opts.primaryKey, () => this.api.upsert(this.id, table, rows), opts.primaryKey !== undefined);
  }

  /** Deletes the rows whose key is in `keys` (objects holding at least the key columns). */
  async deleteRows(table: string, keys: Rows): Promise<StagedWrite> {
    return staged(await this.api.deleteRows(this.id, table, keys), false);
  }

  /** The table in this transaction's view, as an Arrow table. */
  read(table: string, opts: { columns?: readonly string[] } = {}): Promise<Table> {
    return this.api.read(this.id, table, opts);
  }

  /** The table in this transaction's view, as plain objects. */
  async rows(table: string, opts: { columns?: readonly string[] } = {}): Promise<Array<Record<string, unknown>>> {
    return tableToRows(await this.read(table, opts));
  }

  private async orCreate(table: string, rows: Rows, primaryKey: readonly string[] | undefined, op: () => Promise<StageResult>, mayCreate = true): Promise<StagedWrite> {
    try {
      return staged(await op(), false);
    } catch (err) {
      if (!mayCreate || !isArmillariaError(err, ErrorCode.TableNotFound)) throw err;
    }
    // Plain rows get the schema the top-level writes infer for a new table (the coordinator wants one). Arrow
    // tables go as they are, dictionary strings included: both coordinators read those as utf8, and the
    // fields keep their nullability.
    const data = Array.isArray(rows) ? toArrowTable(rows, undefined, primaryKey ? { integerColumns: primaryKey } : {}) : rows;
    return staged(await this.api.createTable(this.id, table, { rows: data, ...(primaryKey ? { primaryKey } : {}) }), true);
  }
}

function staged(r: StageResult, created: boolean): StagedWrite {
  return { table: r.table, rows: r.rows, created };
}

