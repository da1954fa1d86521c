import { HttpClient, type HttpClientOptions } from '@armillaria/core';
import { RemoteCatalog, jsonSafe, type CatalogApi, type GcResult, type VerifyResult } from '@armillaria/catalog';
import { RemoteChangeSubscriber, type ChangeEvent, type SubscribeOptions } from '@armillaria/changelog';
import type { Backend, GcRunOptions } from './backend.js';
import { arrowFromRows } from './arrow-from-rows.js';
import type { EngineQueryOptions, QueryColumn, QueryResult, QueryTableRead } from './query-result.js';
import { remoteCall } from './remote-errors.js';
import { TypedRemoteTxnClient } from './remote-txn-client.js';

interface SqlReply {
  columns: QueryColumn[];
  rows: Array<Record<string, unknown>>;
  tables: QueryTableRead[];
}

/** Every service through the gateway's HTTP API (see packages/query-gateway/README.md). */
export class RemoteBackend implements Backend {
  readonly mode = 'remote' as const;
  readonly catalog: CatalogApi;
  readonly txn: TypedRemoteTxnClient;
  private readonly http: HttpClient;
  private readonly changes: RemoteChangeSubscriber;

  constructor(options: HttpClientOptions) {
    this.http = new HttpClient(options);
    this.catalog = new RemoteCatalog(options);
    this.txn = new TypedRemoteTxnClient(options);
    this.changes = new RemoteChangeSubscriber({ baseUrl: options.baseUrl, ...(options.token ? { token: options.token } : {}) });
  }

  async query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult> {
    // JSON, not Arrow, on the wire: the rows are then exactly the engine's own JSON rows.
    const reply = await remoteCall(() =>
      this.http.json<SqlReply>(`/repos/${encodeURIComponent(repo)}/sql`, { method: 'POST', json: jsonSafe({ sql, ...opts }) }),
    );
    let arrow: ReturnType<typeof arrowFromRows> | undefined;
    return {
      columns: reply.columns,
      rows: reply.rows,
      tables: reply.tables ?? [],
      toArrow: () => (arrow ??= arrowFromRows(reply.columns, reply.rows)),
    };
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent> {
    return this.changes.subscribe(opts);
  }

  gc(opts: GcRunOptions): Promise<GcResult> {
    return remoteCall(() => this.http.json<GcResult>('/gc', { method: 'POST', json: { ...opts } }));
  }

  verify(opts: { repo?: string }): Promise<VerifyResult> {
    const path = opts.repo !== undefined ? `/repos/${encodeURIComponent(opts.repo)}/verify` : '/verify';
    return remoteCall(() => this.http.json<VerifyResult>(path, { method: 'POST', json: {} }));
  }

  async close(): Promise<void> {
    await this.txn.close();
    await this.catalog.close();
  }
}
