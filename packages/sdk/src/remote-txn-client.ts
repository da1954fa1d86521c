import { HttpClient, type HttpClientOptions } from '@armillaria/core';
import { ARROW_STREAM, jsonSafe, toArrowTable, type ColumnType } from '@armillaria/catalog';
import { TxnNotFoundError, type BeginOptions, type CommitOptions, type CreateTableInTxn, type Rows, type StageResult, type TxnApi, type TxnCommitResult, type TxnInfo, type TxnReadOptions, type TxnStatus } from '@armillaria/txn-coordinator';
import { Schema, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { remoteCall } from './remote-errors.js';

const enc = encodeURIComponent;

/**
 * The transaction API over the gateway's `/repos/:repo/txn` routes. Transactions are named by id
 * alone in `TxnApi`, so the client remembers which repo each one it began belongs to.
 */
export class RemoteTxnClient implements TxnApi {
  private readonly http: HttpClient;
  private readonly repos = new Map<string, string>();

  constructor(options: HttpClientOptions) {
    this.http = new HttpClient(options);
  }

  async begin(opts: BeginOptions): Promise<TxnInfo> {
    const { repo, ...body } = opts;
    const info = await remoteCall(() => this.http.json<TxnInfo>(`/repos/${enc(repo)}/txn`, { method: 'POST', json: body }));
    this.repos.set(info.id, repo);
    return info;
  }

  async read(txnId: string, table: string, opts: TxnReadOptions = {}): Promise<Table> {
    const q = opts.columns ? `?columns=${enc(opts.columns.join(','))}` : '';
    return remoteCall(async () => {
      const res = await this.http.request(`${this.path(txnId)}/tables/${enc(table)}${q}`, { headers: { accept: ARROW_STREAM } });
      return tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    });
  }

  write(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stage(txnId, table, 'write', rows);
  }
  append(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stage(txnId, table, 'append', rows);
  }
  upsert(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return this.stage(txnId, table, 'upsert', rows);
  }
  deleteRows(txnId: string, table: string, keys: Rows): Promise<StageResult> {
    return this.stage(txnId, table, 'delete', keys);
  }

  createTable(txnId: string, table: string, opts: CreateTableInTxn): Promise<StageResult> {
    const path = `${this.path(txnId)}/tables/${enc(table)}/create`;
    if (opts.rows instanceof Table || opts.schema instanceof Schema) {
      // Arrow body, key in the query string (as the catalog's create route takes it).
      const data = opts.rows instanceof Table ? opts.rows : toArrowTable(opts.rows ?? [], opts.schema as Schema);
      const q = opts.primaryKey?.length ? `?primaryKey=${enc(opts.primaryKey.join(','))}` : '';
      return this.sendArrow(path + q, data);
    }
    return this.post(path, { ...opts, ...(opts.rows ? { rows: jsonSafe(opts.rows) } : {}) });
  }
  dropTable(txnId: string, table: string): Promise<StageResult> {
    return this.post(`${this.path(txnId)}/tables/${enc(table)}/drop`, {});
  }
  addColumn(txnId: string, table: string, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<StageResult> {
    return this.post(`${this.path(txnId)}/tables/${enc(table)}/columns`, jsonSafe(column));
  }

  async commit(txnId: string, opts: CommitOptions = {}): Promise<TxnCommitResult> {
    const path = this.path(txnId);
    try {
      return await this.post<TxnCommitResult>(`${path}/commit`, opts);
    } finally {
      this.repos.delete(txnId);
    }
  }

  async abort(txnId: string, reason?: string): Promise<TxnStatus> {
    const path = this.path(txnId);
    try {
      return await this.post<TxnStatus>(`${path}/abort`, reason === undefined ? {} : { reason });
    } finally {
      this.repos.delete(txnId);
    }
  }

  status(txnId: string): Promise<TxnStatus> {
    return remoteCall(() => this.http.json<TxnStatus>(this.path(txnId)));
  }

  async close(): Promise<void> {
    this.repos.clear();
  }

  private path(txnId: string): string {
    const repo = this.repos.get(txnId);
    if (repo === undefined) throw new TxnNotFoundError(txnId);
    return `/repos/${enc(repo)}/txn/${enc(txnId)}`;
  }

  private post<T>(path: string, json: unknown): Promise<T> {
    return remoteCall(() => this.http.json<T>(path, { method: 'POST', json }));
  }

  private stage(txnId: string, table: string, op: string, rows: Rows): Promise<StageResult> {
    const path = `${this.path(txnId)}/tables/${enc(table)}/${op}`;
    return rows instanceof Table ? this.sendArrow(path, rows) : this.post(path, { rows: jsonSafe(rows) });
  }

  private sendArrow(path: string, data: Table): Promise<StageResult> {
    return remoteCall(async () => {
      const res = await this.http.request(path, { method: 'POST', body: tableToIPC(data, 'stream'), headers: { 'content-type': ARROW_STREAM } });
      return (await res.json()) as StageResult;
    });
  }
}
