import type { CatalogApi } from '@armillaria/catalog';
import type { ChangeEvent, SubscribeOptions } from '@armillaria/changelog';
import type { TxnApi } from '@armillaria/txn-coordinator';
import type { EngineQueryOptions, QueryResult } from './query-result.js';

/**
 * What `Armillaria` needs from a deployment. Two implementations: `EmbeddedBackend` (every service
 * in this process over a data directory) and `RemoteBackend` (the gateway's HTTP API). The SDK's
 * behaviour lives in `Armillaria` alone, so both modes answer and fail the same way. Every commit made
 * through `catalog` reaches the change bus (embedded: `publishingCatalog`; remote: the server's job).
 */
export interface Backend {
  readonly mode: 'embedded' | 'remote';
  readonly catalog: CatalogApi;
  readonly txn: TxnApi;
  query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult>;
  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent>;
  close(): Promise<void>;
}
