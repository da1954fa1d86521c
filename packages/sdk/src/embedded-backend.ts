import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, type Commit } from '@armillaria/catalog';
import { Changelog, EmbeddedChangeBus, FsCursorStore, type ChangeEvent, type SubscribeOptions } from '@armillaria/changelog';
import { FsTxnLog, TxnCoordinator, type TxnLog } from '@armillaria/txn-coordinator';
import { QueryEngine } from '@armillaria/query-gateway';
import type { Backend } from './backend.js';
import type { EngineQueryOptions, QueryResult } from './query-result.js';

/**
 * Where each part keeps its files under an embedded data directory. `armillaria serve --data <dir>`
 * and `Armillaria.open(dir)` use the same layout, so either can open what the other wrote (one
 * process at a time: the change log and the txn log belong to one process).
 */
export const dataLayout = {
  objects: 'objects',
  refs: 'refs',
  txn: 'txn',
  changes: 'changes',
  cursors: 'cursors',
  queryCache: 'query-cache',
} as const;

/** Every service in this process over one data directory: no server. */
export class EmbeddedBackend implements Backend {
  readonly mode = 'embedded' as const;

  private constructor(
    readonly catalog: Catalog,
    readonly txn: TxnCoordinator,
    readonly format: ParquetTableFormat,
    private readonly bus: EmbeddedChangeBus,
    private readonly changelog: Changelog,
    private readonly engine: QueryEngine,
    private readonly txnLog: TxnLog,
  ) {}

  static async open(dir: string): Promise<EmbeddedBackend> {
    const chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: join(dir, dataLayout.objects) }), hasher: await loadHasher() });
    const format = new ParquetTableFormat({ chunks });
    const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, dataLayout.refs) }), format });
    const bus = await EmbeddedChangeBus.open({ dir: join(dir, dataLayout.changes) });
    const changelog = new Changelog({ catalog, bus, cursors: new FsCursorStore(join(dir, dataLayout.cursors)) });
    const txnLog = new FsTxnLog({ dir: join(dir, dataLayout.txn) });
    const txn = new TxnCoordinator({ catalog, tables: format, log: txnLog, bus });
    // Recovery first: a transaction a crashed process left COMMITTED is finished before anyone reads.
    await txn.start();
    const engine = await QueryEngine.open({ catalog, format, chunks, cacheDir: join(dir, dataLayout.queryCache) });
    return new EmbeddedBackend(catalog, txn, format, bus, changelog, engine, txnLog);
  }

  async query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult> {
    const r = await this.engine.query(repo, sql, opts);
    return { columns: r.columns, rows: r.rows, tables: r.tables, toArrow: () => r.toArrow() };
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent> {
    return this.changelog.subscribe(opts);
  }

  async committed(repo: string, branch: string, commit: Commit): Promise<void> {
    await this.changelog.publishCommit(repo, branch, commit);
  }

  async close(): Promise<void> {
    await this.engine.close();
    await this.txn.close();
    await this.txnLog.close();
    await this.bus.close();
    await this.catalog.close();
  }
}
