import { join, resolve } from 'node:path';
import { loadConfig } from '@armillaria/core';
import type { CatalogApi } from '@armillaria/catalog';
import { Changelog, FsCursorStore, type ChangeEvent, type SubscribeOptions } from '@armillaria/changelog';
import type { TxnApi } from '@armillaria/txn-coordinator';
import { openGatewayDeps, type OpenedGateway, type QueryEngine } from '@armillaria/query-gateway';
import type { Backend } from './backend.js';
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
    return new EmbeddedBackend(opened, publishing, txn, withCursors, engine);
  }

  async query(repo: string, sql: string, opts: EngineQueryOptions): Promise<QueryResult> {
    const r = await this.engine.query(repo, sql, opts);
    return { columns: r.columns, rows: r.rows, tables: r.tables, toArrow: () => r.toArrow() };
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<ChangeEvent> {
    return this.changelog.subscribe(opts);
  }

  async close(): Promise<void> {
    await this.opened.close();
  }
}
