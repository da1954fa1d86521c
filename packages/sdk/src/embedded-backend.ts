import { join, resolve } from 'node:path';
import { InvalidArgumentError, loadConfig } from '@armillaria/core';
import { Catalog, collectGarbage, pendingTxnRoots, verifyStore, type CatalogApi, type GcResult, type VerifyResult } from '@armillaria/catalog';
import { FsTxnLog, type TxnApi } from '@armillaria/txn-coordinator';
import { Changelog, FsCursorStore, type ChangeEvent, type SubscribeOptions } from '@armillaria/changelog';
import { openGatewayDeps, type OpenedGateway, type QueryEngine } from '@armillaria/query-gateway';
import type { Backend, GcRunOptions } from './backend.js';
import { publishingCatalog } from './publishing-catalog.js';
import type { EngineQueryOptions, QueryResult } from './query-result.js';

/**
 * Every service in this process over one data directory: no server. The parts are assembled exactly
 * as `armillaria serve` assembles them (the gateway's `openGatewayDeps` in embedded mode), so either
 * can open what the other wrote (one process at a time: the change log and txn log are single-owner).
 */
export class EmbeddedBackend implements Backend {
  readonly mode = 'embedded' as const;

  private constructor(
    private readonly opened: OpenedGateway,
    readonly catalog: CatalogApi,
    readonly txn: TxnApi,
    private readonly changelog: Changelog,
    private readonly engine: QueryEngine,
    private readonly dir: string,
  ) {}

  static async open(dir: string): Promise<EmbeddedBackend> {
    // The directory alone decides: ARMILLARIA_* variables of the environment (a distributed setup) do not apply.
    const config = loadConfig({}, { dataDir: resolve(dir), mode: 'embedded' });
    const opened = await openGatewayDeps(config, { protectedBranches: {}, limits: {} });
    const { catalog, txn, changelog, engine } = opened.deps;
    if (!txn || !changelog) {
      await opened.close();
      throw new Error('embedded services came up without a coordinator or changelog');
    }
    // Same catalog and bus, plus cursors so `durableName` subscriptions work in-process.
    const withCursors = new Changelog({ catalog, bus: changelog.bus, cursors: new FsCursorStore(join(resolve(dir), 'cursors')) });
    const publishing = publishingCatalog(catalog, (repo, branch, commit) => changelog.publishCommit(repo, branch, commit));
    return new EmbeddedBackend(opened, publishing, txn, withCursors, engine, resolve(dir));
  }

  async query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult> {
    const r = await this.engine.query(repo, sql, opts);
    return { columns: r.columns, rows: r.rows, tables: r.tables, toArrow: () => r.toArrow() };
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent> {
    return this.changelog.subscribe(opts);
  }

  async gc(opts: GcRunOptions): Promise<GcResult> {
    // The coordinator's pending transactions are roots too: their staged chunks are not referenced by
    // any commit yet. Read through a second handle on the same txn directory (read-only use).
    const log = new FsTxnLog({ dir: join(this.dir, 'txn') });
    try {
      return await collectGarbage(this.localCatalog(), { ...opts, roots: [pendingTxnRoots(log)] });
    } finally {
      await log.close();
    }
  }

  verify(opts: { repo?: string }): Promise<VerifyResult> {
    return verifyStore(this.localCatalog(), opts.repo !== undefined ? { repo: opts.repo } : {});
  }

  private localCatalog(): Catalog {
    const catalog = this.opened.deps.catalog;
    if (!(catalog instanceof Catalog)) throw new InvalidArgumentError('gc and verify need the catalog in this process');
    return catalog;
  }

  async close(): Promise<void> {
    await this.opened.close();
  }
}
