import type { CatalogApi, GcResult, VerifyResult } from '@armillaria/catalog';
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
  /** Store-wide garbage collection (repos share deduplicated chunks). */
  gc(opts: GcRunOptions): Promise<GcResult>;
  /** Re-hashes every reachable chunk of `repo` (or of every repo) and checks all metadata parses. */
  verify(opts: { repo?: string }): Promise<VerifyResult>;
  close(): Promise<void>;
}

/** What `arm.gc()` takes: see `collectGarbage` in @armillaria/catalog. */
export interface GcRunOptions {
  /** Report counts and bytes, delete nothing. */
  dryRun?: boolean;
  /** Chunks younger than this are never swept (default 1 hour; must exceed the longest transaction). */
  graceMs?: number;
  /** Unreachable history younger than this stays for time travel (default 7 days). */
  retainHistoryMs?: number;
}
