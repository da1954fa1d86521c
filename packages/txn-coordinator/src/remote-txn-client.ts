import { HttpClient, type HttpClientOptions } from '@armillaria/core';
import { SchemaMismatchError, columnTypeOf, type ColumnType } from '@armillaria/catalog';
import { Schema, Table, tableFromIPC, type DataType } from 'apache-arrow';
import { jsonSafe, tableToRows } from './rows.js';
import type { WriteBody } from './server/routes/txn-routes.js';
import type {
  BeginOptions, CommitOptions, CreateTableInTxn, Rows, StageResult, TableSchema, TxnApi, TxnCommitResult, TxnInfo, TxnReadOptions, TxnStatus,
} from './txn-api.js';

export type RemoteTxnClientOptions = HttpClientOptions;

/**
 * TxnApi over HTTP (the `/txn` routes). Errors arrive as the same typed errors the coordinator
 * throws. Rows are sent as JSON (bigint as number when exact, else a decimal string; bytes as
 * base64), reads come back as Arrow IPC. Only `begin`, `status` and `read` are retried on transport
 * errors: a staging call or a commit is never sent twice behind the caller's back (use an
 * idempotency key to retry a commit safely). Rows and schemas the catalog cannot store are refused
 * before sending, as a rejected promise with the coordinator's error (SCHEMA_MISMATCH).
 */
export class RemoteTxnClient implements TxnApi {
  private readonly http: HttpClient;

  constructor(options: RemoteTxnClientOptions) {
    this.http = new HttpClient(options);
  }

  begin(opts: BeginOptions): Promise<TxnInfo> {
    return this.http.json<TxnInfo>('/txn/begin', { method: 'POST', json: opts });
  }

  async read(txnId: string, table: string, opts: TxnReadOptions = {}): Promise<Table> {
    const q = opts.columns?.length ? `?columns=${encodeURIComponent(opts.columns.join(','))}` : '';
    const res = await this.http.request(`/txn/${encodeURIComponent(txnId)}/tables/${encodeURIComponent(table)}${q}`);
    return tableFromIPC(new Uint8Array(await res.arrayBuffer()));
  }

  async write(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.send(txnId, { table, op: 'write', rows: toJsonRows(rows) });
  }
  async append(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.send(txnId, { table, op: 'append', rows: toJsonRows(rows) });
  }
  async upsert(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.send(txnId, { table, op: 'upsert', rows: toJsonRows(rows) });
  }
  async deleteRows(txnId: string, table: string, keys: Rows): Promise<StageResult> {
    return this.send(txnId, { table, op: 'delete', rows: toJsonRows(keys) });
  }
  async createTable(txnId: string, table: string, opts: CreateTableInTxn): Promise<StageResult> {
    const body: WriteBody = { table, op: 'create' };
    if (opts.schema) body.schema = toJsonSchema(opts.schema);
    if (opts.rows) body.rows = toJsonRows(opts.rows);
    if (opts.rows instanceof Table && !opts.schema) body.schema = toJsonSchema(opts.rows.schema);
    if (opts.primaryKey) body.primaryKey = [...opts.primaryKey];
    return this.send(txnId, body);
  }
  dropTable(txnId: string, table: string): Promise<StageResult> {
    return this.send(txnId, { table, op: 'drop' });
  }
  async addColumn(txnId: string, table: string, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<StageResult> {
    return this.send(txnId, { table, op: 'addColumn', column: { ...column, ...(column.defaultValue !== undefined ? { defaultValue: jsonSafe(column.defaultValue) } : {}) } });
  }

  commit(txnId: string, opts: CommitOptions = {}): Promise<TxnCommitResult> {
    return this.http.json<TxnCommitResult>(`/txn/${encodeURIComponent(txnId)}/commit`, { method: 'POST', json: opts, idempotent: false });
  }

  abort(txnId: string, reason?: string): Promise<TxnStatus> {
    return this.http.json<TxnStatus>(`/txn/${encodeURIComponent(txnId)}/abort`, { method: 'POST', json: reason === undefined ? {} : { reason }, idempotent: true });
  }

  status(txnId: string): Promise<TxnStatus> {
    return this.http.json<TxnStatus>(`/txn/${encodeURIComponent(txnId)}`);
  }

  async close(): Promise<void> {}

  private send(txnId: string, body: WriteBody): Promise<StageResult> {
    return this.http.json<StageResult>(`/txn/${encodeURIComponent(txnId)}/write`, { method: 'POST', json: body, idempotent: false });
  }
}

function toJsonRows(rows: Rows): Array<Record<string, unknown>> {
  const plain = rows instanceof Table ? tableToRows(rows) : rows;
  return plain.map((r) => jsonSafe(r) as Record<string, unknown>);
}

/** An Arrow schema as `{fields: [{name, type, nullable}]}` with the catalog's type names. */
function toJsonSchema(schema: TableSchema): TableSchema {
  if (!(schema instanceof Schema)) return schema;
  return { fields: schema.fields.map((f) => ({ name: f.name, type: columnTypeName(f.type, f.name), nullable: f.nullable })) };
}

/**
 * The catalog's own reading of an Arrow type (`columnTypeOf`), so both modes accept the same columns:
 * Dictionary<Utf8> (what Arrow and Parquet readers give for strings) is utf8, as in process; the rows
 * themselves travel as plain values.
 */
function columnTypeName(t: DataType, column: string): ColumnType {
  const type = columnTypeOf(t);
  if (!type) throw new SchemaMismatchError(`column ${column} has an Arrow type the catalog does not store: ${String(t)}`, { column, type: String(t) });
  return type;
}
