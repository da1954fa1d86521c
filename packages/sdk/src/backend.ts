import type { Commit, CatalogApi } from '@armillaria/catalog';
import type { ChangeEvent, SubscribeOptions } from '@armillaria/changelog';
import type { TxnApi } from '@armillaria/txn-coordinator';
import type { EngineQueryOptions, QueryResult } from './query-result.js';

/**
 * What `Armillaria` needs from a deployment. Two implementations: `EmbeddedBackend` (every service
 * in this process over a data directory) and `RemoteBackend` (the gateway's HTTP API). The SDK's
 * behaviour lives in `Armillaria` alone, so both modes answer and fail the same way.
 */
export interface Backend {
  readonly mode: 'embedded' | 'remote';
  readonly catalog: CatalogApi;
  readonly txn: TxnApi;
  query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult>;
  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent>;
  /**
   * Called after a single-operation commit (not a transaction) landed on `branch`. Embedded: the
   * commit's change events go to the bus so live subscribers wake at once. Remote: the gateway does it.
   */
  committed(repo: string, branch: string, commit: Commit): Promise<void>;
  close(): Promise<void>;
}
