import type { HttpClientOptions } from '@armillaria/core';
import type { ColumnType } from '@armillaria/catalog';
import {
  RemoteTxnClient, type BeginOptions, type CommitOptions, type CreateTableInTxn, type Rows, type StageResult, type TxnApi, type TxnCommitResult,
  type TxnInfo, type TxnReadOptions, type TxnStatus,
} from '@armillaria/txn-coordinator';
import type { Table } from 'apache-arrow';
import { remoteCall } from './remote-errors.js';

/**
 * The coordinator's `RemoteTxnClient` (the gateway mounts the `/txn` routes), with its errors turned
 * into the classes the in-process coordinator throws (TxnConflictError, CatalogNotFoundError, …).
 */
export class TypedRemoteTxnClient implements TxnApi {
  private readonly inner: RemoteTxnClient;

  constructor(options: HttpClientOptions) {
    this.inner = new RemoteTxnClient(options);
  }

  begin(opts: BeginOptions): Promise<TxnInfo> {
    return remoteCall(() => this.inner.begin(opts));
  }
  read(txnId: string, table: string, opts?: TxnReadOptions): Promise<Table> {
    return remoteCall(() => this.inner.read(txnId, table, opts));
  }
  write(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return remoteCall(() => this.inner.write(txnId, table, rows));
  }
  append(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return remoteCall(() => this.inner.append(txnId, table, rows));
  }
  upsert(txnId: string, table: string, rows: Rows): Promise<StageResult> {
    return remoteCall(() => this.inner.upsert(txnId, table, rows));
  }
  deleteRows(txnId: string, table: string, keys: Rows): Promise<StageResult> {
    return remoteCall(() => this.inner.deleteRows(txnId, table, keys));
  }
  createTable(txnId: string, table: string, opts: CreateTableInTxn): Promise<StageResult> {
    return remoteCall(() => this.inner.createTable(txnId, table, opts));
  }
  dropTable(txnId: string, table: string): Promise<StageResult> {
    return remoteCall(() => this.inner.dropTable(txnId, table));
  }
  addColumn(txnId: string, table: string, column: { name: string; type: ColumnType; defaultValue?: unknown }): Promise<StageResult> {
    return remoteCall(() => this.inner.addColumn(txnId, table, column));
  }
  commit(txnId: string, opts?: CommitOptions): Promise<TxnCommitResult> {
    return remoteCall(() => this.inner.commit(txnId, opts));
  }
  abort(txnId: string, reason?: string): Promise<TxnStatus> {
    return remoteCall(() => this.inner.abort(txnId, reason));
  }
  status(txnId: string): Promise<TxnStatus> {
    return remoteCall(() => this.inner.status(txnId));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
