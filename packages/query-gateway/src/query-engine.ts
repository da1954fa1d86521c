import { ErrorCode, InvalidArgumentError, isArmillariaError, type Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';
import { CatalogNotFoundError, type AsOf, type CatalogApi, type ChunkInfo, type Manifest, type TableFormat, type TableLayout, type TableVersion } from '@armillaria/catalog';
import { Lru } from './lru.js';
import { DuckDBConnection, JSDuckDBValueConverter, StatementType, VARCHAR, type DuckDBInstance } from '@duckdb/node-api';
import { ChunkCache, type CacheLease } from './chunk-cache.js';
import { queryMetrics } from './metrics.js';
import { ConnectionPool, type PooledConnection } from './connection-pool.js';
import { Compactor, type CompactionOptions } from './compactor.js';
import { openSandbox } from './duckdb-sandbox.js';
import { LimitExceededError, QueryRefusedError, QueryTimeoutError } from './errors.js';
import { baseChunksUnder, deltaChunksToRead, pruneChunks, runIndex } from './prune.js';
import { performance } from 'node:perf_hooks';
import { ResultBuilder, arrowIPC, type QueryResult, type QueryTimings, type TableRead } from './results.js';
import { analyzeStatement, type ColumnRange, type SqlAnalysis } from './sql-analysis.js';
import { viewSql } from './views.js';

export interface QueryLimits {
  /** Wall time from the call to the last row, chunk fetching included (default 30 s). */
  timeoutMs: number;
  /** Most rows a result may have (default 1,000,000). */
  maxRows: number;
  /** Most bytes a result may have, counted as its JSON text (default 256 MiB). */
  maxBytes: number;
}

export interface QueryEngineOptions {
  catalog: CatalogApi;
  /** Reads manifests and chunk lists (with stats); a ParquetTableFormat over the same chunk store. */
  format: Pick<TableFormat, 'readManifest' | 'layout'>;
  /** Data chunks come from here, verified. */
  chunks: ChunkStore;
  /** Local chunk cache, the only directory the SQL sandbox can read. */
  cacheDir: string;
  /** Size bound of the chunk cache in bytes (default 10 GiB; see `ChunkCache`). */
  cacheMaxBytes?: number;
  limits?: Partial<QueryLimits>;
  threads?: number;
  memoryLimit?: string;
  /** On by default for versions of at least 32 chunks (see `Compactor`); `false` turns it off. */
  compaction?: CompactionOptions | false;
}

export interface QueryOptions {
  /** A branch name (same as `ref`; give one of them). */
  branch?: string;
  /** Branch, tag, commit hash or prefix, optionally with `@{time}`. Default: the repo's default branch. */
  ref?: string;
  asOf?: AsOf;
  /** Per-table version numbers, found along the first parents of the ref. */
  versions?: Record<string, number>;
  /** Lower this call's limits (never raised past the engine's). */
  timeoutMs?: number;
  maxRows?: number;
  maxBytes?: number;
  /**
   * Cancels the query (the gateway aborts it when its HTTP client goes away): chunk fetches stop, DuckDB
   * is interrupted, and the call rejects with the signal's reason (an `AbortError` by default).
   */
  signal?: AbortSignal;
}

export const DEFAULT_LIMITS: QueryLimits = { timeoutMs: 30_000, maxRows: 1_000_000, maxBytes: 256 * 1024 * 1024 };
const MAX_SQL_LENGTH = 1024 * 1024;
const ANALYSIS_CACHE_SIZE = 512;

/**
 * SQL over the tables of a repo at any ref, time or per-table version. Each query gets its own DuckDB
 * connection on one sandboxed instance (see `openSandbox`), whose temporary views map each referenced
 * table to the Parquet chunks of the resolved version, pruned by column stats and cached locally.
 */
export class QueryEngine {
  readonly cache: ChunkCache;
  private readonly compactor: Compactor | undefined;
  private readonly pool: ConnectionPool;
  readonly limits: QueryLimits;
  private closed = false;
  private readonly analyses = new Lru<string, SqlAnalysis>(ANALYSIS_CACHE_SIZE);
  // Keyed by content hashes, so never stale: a commit's tables, a manifest's schema and chunk list.
  private readonly treeTables = new Lru<string, Promise<TableVersion[]>>(256);
  private readonly versions = new Lru<Hash, Promise<{ manifest: Manifest; layout: TableLayout }>>(256);

  private constructor(private readonly opts: QueryEngineOptions, private readonly db: DuckDBInstance) {
    this.cache = new ChunkCache({ chunks: opts.chunks, dir: opts.cacheDir, ...(opts.cacheMaxBytes !== undefined ? { maxBytes: opts.cacheMaxBytes } : {}) });
    this.compactor = opts.compaction === false ? undefined : new Compactor(db, this.cache, opts.compaction ?? {});
    this.pool = new ConnectionPool(db);
    this.limits = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`limits.${k} must be a positive number`, { details: { [k]: v } });
    }
  }

  static async open(opts: QueryEngineOptions): Promise<QueryEngine> {
    const db = await openSandbox({
      cacheDir: opts.cacheDir,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.memoryLimit !== undefined ? { memoryLimit: opts.memoryLimit } : {}),
    });
    try {
      const engine = new QueryEngine(opts, db);
      await engine.cache.open();
      return engine;
    } catch (err) {
      // Bad options or an unusable cache directory: nothing stays open.
      db.closeSync();
      throw err;
    }
  }

  /** Runs one read-only statement. Errors: QUERY_REFUSED, QUERY_TIMEOUT, LIMIT_EXCEEDED, INVALID_ARGUMENT (SQL errors), the catalog's *_NOT_FOUND. */
  async query(repo: string, sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    if (this.closed) throw new InvalidArgumentError('query engine is closed');
    if (typeof sql !== 'string' || sql.trim() === '') throw new InvalidArgumentError('sql must be a non-empty string');
    if (sql.length > MAX_SQL_LENGTH) throw new InvalidArgumentError(`sql is longer than ${MAX_SQL_LENGTH} characters`);
    const limits = this.callLimits(options);
    validateVersions(options.versions);
    if (options.branch !== undefined && options.ref !== undefined && options.branch !== options.ref) {
      throw new InvalidArgumentError('give either branch or ref, not both', { details: { branch: options.branch, ref: options.ref } });
    }

    const cancel = options.signal;
    cancel?.throwIfAborted();
    const abort = new AbortController();
    let timedOut = false;
    let cancelled = false;
    const pc = await this.pool.acquire(sql);
    const conn = pc.conn;
    // The files this query reads stay in the cache until it has streamed its last row.
    const lease = this.cache.lease();
    let reusable = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(new QueryTimeoutError(limits.timeoutMs));
      conn.interrupt();
    }, limits.timeoutMs);
    const onCancel = (): void => {
      cancelled = true;
      queryMetrics.cancelled.inc();
      abort.abort(cancel!.reason);
      conn.interrupt();
    };
    cancel?.addEventListener('abort', onCancel, { once: true });
    try {
      const t0 = performance.now();
      const analysis = await this.analyze(conn, sql);
      const timings: QueryTimings = { parseMs: performance.now() - t0, resolveMs: 0, fetchMs: 0, viewMs: 0, executeMs: 0 };
      const tables = await this.prepareViews(pc, repo, analysis.references, options, abort.signal, lease, timings);
      if (timedOut) throw new QueryTimeoutError(limits.timeoutMs);
      if (cancelled) throw cancel!.reason;
      const t1 = performance.now();
      const result = await this.run(pc, sql, tables, limits, timings);
      timings.executeMs = performance.now() - t1;
      reusable = true;
      return result;
    } catch (err) {
      if (cancelled) throw cancel!.reason;
      if (timedOut || abort.signal.aborted) throw new QueryTimeoutError(limits.timeoutMs);
      throw translateError(err);
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
      lease.release();
      this.pool.release(pc, reusable && !timedOut && !cancelled && !this.closed);
    }
  }

  /**
   * Parse + checks, remembered per SQL text (parsing through DuckDB costs a query round trip, ~1-2 ms).
   * Only accepted statements are kept; a refused one is parsed again each time (and refused again).
   */
  private async analyze(conn: DuckDBConnection, sql: string): Promise<SqlAnalysis> {
    const hit = this.analyses.get(sql);
    if (hit) return hit;
    const analysis = analyzeStatement(await parseSingleSelect(conn, sql));
    this.analyses.set(sql, analysis);
    return analysis;
  }

  /** One shared lookup per key; a failed one is forgotten so the next call retries. */
  private async cached<K, V>(lru: Lru<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let p = lru.get(key);
    if (!p) {
      p = load();
      lru.set(key, p);
      const mine = p;
      p.catch(() => {
        if (lru.get(key) === mine) lru.delete(key);
      });
    }
    return p;
  }

  /** Resolves once background work (compactions, deleting evicted files) is done. */
  async idle(): Promise<void> {
    await this.compactor?.idle();
    await this.cache.idle();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.compactor?.idle();
    this.pool.closeAll();
    this.db.closeSync();
  }

  private callLimits(o: QueryOptions): QueryLimits {
    const pick = (name: keyof QueryLimits, v: number | undefined): number => {
      if (v === undefined) return this.limits[name];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`${name} must be a positive number`, { details: { [name]: v } });
      return Math.min(v, this.limits[name]);
    };
    return { timeoutMs: pick('timeoutMs', o.timeoutMs), maxRows: pick('maxRows', o.maxRows), maxBytes: pick('maxBytes', o.maxBytes) };
  }

  /** Resolves every referenced table, prunes and fetches its chunks, and creates its view on `conn`. */
  private async prepareViews(pc: PooledConnection, repo: string, refs: ReadonlyArray<{ table: string; ranges: ColumnRange[] }>, o: QueryOptions, signal: AbortSignal, lease: CacheLease, timings: QueryTimings): Promise<TableRead[]> {
    const byName = new Map<string, ColumnRange[][]>();
    for (const r of refs) {
      const list = byName.get(r.table) ?? [];
      list.push(r.ranges);
      byName.set(r.table, list);
    }
    const ref = o.ref ?? o.branch;
    let mark = performance.now();
    const lap = (key: 'resolveMs' | 'fetchMs' | 'viewMs'): void => {
      const now = performance.now();
      timings[key] += now - mark;
      mark = now;
    };
    const reads: TableRead[] = [];
    const views = new Map<string, string>();
    if (byName.size === 0) {
      await this.pool.ensureViews(pc, views);
      return reads;
    }
    mark = performance.now();
    // One commit for the whole query: every table comes from the same snapshot.
    const commit = await this.opts.catalog.resolve(repo, ref, o.asOf !== undefined ? { asOf: o.asOf } : {});
    const listed = await this.cached(this.treeTables, `${repo}\0${commit.hash}`, () => this.opts.catalog.listTables(repo, { ref: commit.hash }));
    const seen = new Set<string>();
    for (const written of byName.keys()) {
      const name = matchTable(listed, written);
      if (name === undefined) {
        throw new CatalogNotFoundError(ErrorCode.TableNotFound, `table ${JSON.stringify(written)} not found in ${repo} at ${ref ?? 'the default branch'}`, { repo, table: written });
      }
      // Several spellings (`Users`, `users`) of one table share one view and the union of their ranges.
      if (seen.has(name)) continue;
      seen.add(name);
      const allRanges = [...byName].filter(([w]) => matchTable(listed, w) === name).flatMap(([, r]) => r);
      const version = o.versions?.[name];
      let tv: TableVersion = listed.find((t) => t.table === name)!;
      if (version !== undefined) tv = await this.opts.catalog.tableVersion(repo, name, { ref: commit.hash, version });
      const { manifest, layout } = await this.cached(this.versions, tv.manifest, async () => ({
        manifest: await this.opts.format.readManifest(tv.manifest),
        layout: await this.opts.format.layout(tv.manifest),
      }));
      const all = layout.base;
      const kept = pruneChunks(manifest, all, allRanges);
      lap('resolveMs');
      // Delta chunks (merge-on-read): a delta row hides its key's base row whatever its values, so the view
      // reads every delta chunk whose keys overlap a kept base chunk; pruning decides which may contribute live rows.
      // Column-level updates: a partial row's values come partly from its base row, so the stats of a delta
      // chunk holding partial rows (its mask column not all null) say nothing about them; only ranges on
      // the key (which both rows share) may prune it and its base rows' chunks.
      const u = layout.delta?.unchangedColumn;
      const partialChunk = (c: ChunkInfo): boolean => u !== undefined && (c.stats[u]?.nullCount ?? 0) < c.rows;
      const keyOnly = allRanges.every((r) => r.every((c) => (layout.keyColumns ?? []).includes(c.column)));
      const prunable = layout.delta?.chunks.filter((c) => keyOnly || !partialChunk(c)) ?? [];
      const live = new Set([...pruneChunks(manifest, prunable, allRanges), ...(layout.delta?.chunks.filter((c) => !keyOnly && partialChunk(c)) ?? [])].map((c) => c.hash));
      const runStarts = layout.delta?.runStarts;
      const deltaRead = deltaChunksToRead(manifest, layout.keyColumns ?? [], kept, layout.delta?.chunks ?? [], live, runStarts);
      const delta = deltaRead.map((c) => c.hash as Hash);
      // The base rows of partial rows: in the kept chunks when only key ranges pruned, else in any base
      // chunk overlapping a delta chunk with partial rows.
      const partialRead = deltaRead.filter(partialChunk);
      const partial = partialRead.length > 0;
      const partialBase = !partial ? [] : keyOnly ? kept : baseChunksUnder(manifest, layout.keyColumns ?? [], all, partialRead);
      // With partial rows the view reads the base files once for both: kept plus those extra chunks.
      const keptSet = new Set(kept.map((c) => c.hash));
      const extraSet = new Set(partialBase.filter((c) => !keptSet.has(c.hash)).map((c) => c.hash));
      const baseRead = extraSet.size === 0 ? kept : all.filter((c) => keptSet.has(c.hash) || extraSet.has(c.hash));
      const extra = baseRead.length - kept.length;
      const { paths: fetchedPaths, fetched } = await this.cache.fetch([...baseRead.map((c) => c.hash as Hash), ...delta], { signal, lease });
      const paths = fetchedPaths.slice(0, baseRead.length);
      lap('fetchMs');
      const compacted = await this.compactedFile(tv.manifest, manifest, layout, kept, delta.length > 0, lease);
      const deltaPaths = fetchedPaths.slice(baseRead.length);
      const deltaFiles = layout.delta && {
        paths: deltaPaths, livePaths: deltaPaths.filter((_, i) => live.has(delta[i]!)), keyColumns: layout.keyColumns ?? [], deletedColumn: layout.delta.deletedColumn,
        ...(partial ? { unchangedColumn: u! } : {}),
        ...(runStarts ? { runs: deltaRuns(layout.delta.chunks, runStarts, deltaRead, live) } : {}),
      };
      views.set(name, compacted ? viewSql(name, manifest.schema.fields, [compacted]) : viewSql(name, manifest.schema.fields, paths, deltaFiles));
      reads.push({ table: name, version: tv.version, commit: tv.commit, manifest: tv.manifest, chunks: all.length + (layout.delta?.chunks.length ?? 0), chunksRead: kept.length + delta.length + extra, chunksFetched: fetched, compacted: compacted !== undefined });
    }
    lap('resolveMs');
    await this.pool.ensureViews(pc, views);
    lap('viewMs');
    return reads;
  }

  /**
   * The compacted file of the version to read instead of its chunk files, when it is cached and either
   * the view would need the merge-on-read anti-join (`antiJoin`: delta chunks are read; the file holds the
   * merged rows) or the scan keeps at least half of the rows (DuckDB's row-group pruning inside the file
   * then does the rest; a more selective scan reads fewer rows from its few chunk files). A full scan of a
   * version without one starts building it (its chunk files were all just fetched and are pinned by `lease`).
   */
  private async compactedFile(hash: Hash, manifest: Manifest, layout: TableLayout, kept: readonly ChunkInfo[], antiJoin: boolean, lease: CacheLease): Promise<string | undefined> {
    if (!this.compactor) return undefined;
    const all = layout.base;
    const rows = (list: readonly ChunkInfo[]): number => list.reduce((a, c) => a + c.rows, 0);
    if (!antiJoin && (kept.length === 0 || rows(kept) * 2 < rows(all))) return undefined;
    const file = await this.compactor.lookup(hash, lease);
    if (file === undefined && all.length > 0 && kept.length === all.length) {
      const ref = (c: ChunkInfo) => ({ hash: c.hash as Hash, bytes: c.bytes });
      this.compactor.start({
        manifest: hash, fields: manifest.schema.fields, chunks: all.map(ref),
        ...(layout.delta ? {
          delta: {
            chunks: layout.delta.chunks.map(ref), keyColumns: layout.keyColumns ?? [], deletedColumn: layout.delta.deletedColumn,
            ...(layout.delta.runStarts ? { runStarts: layout.delta.runStarts } : {}),
            ...(layout.delta.unchangedColumn !== undefined ? { unchangedColumn: layout.delta.unchangedColumn } : {}),
          },
        } : {}),
      });
    }
    return file;
  }

  private async run(pc: PooledConnection, sql: string, tables: TableRead[], limits: QueryLimits, timings: QueryTimings): Promise<QueryResult> {
    const prepared = await this.pool.prepare(pc, sql);
    // Second line of defence after the AST check: the bound statement must be a plain SELECT.
    if (prepared.statementType !== StatementType.SELECT) {
      throw new QueryRefusedError(`only read queries are allowed; this is a ${StatementType[prepared.statementType]} statement`, { statementType: StatementType[prepared.statementType] });
    }
    const result = await prepared.stream();
    const meta = result.deduplicatedColumnNames().map((name, i) => ({ name, type: result.columnType(i).toString(), typeId: result.columnTypeId(i) }));
    const builder = new ResultBuilder(meta);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      if (builder.rows.length + chunk.rowCount > limits.maxRows) throw new LimitExceededError('rows', limits.maxRows);
      builder.add(chunk.convertColumns(JSDuckDBValueConverter), chunk.rowCount);
      if (builder.bytes > limits.maxBytes) throw new LimitExceededError('bytes', limits.maxBytes);
    }
    let arrow: ReturnType<ResultBuilder['toArrow']> | undefined;
    return {
      columns: meta.map(({ name, type }) => ({ name, type })),
      rows: builder.rows,
      rowCount: builder.rows.length,
      tables,
      timings,
      toArrow: () => (arrow ??= builder.toArrow()),
      toArrowIPC: () => arrowIPC(arrow ??= builder.toArrow()),
    };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateVersions(versions: unknown): void {
  if (versions === undefined) return;
  if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) throw new InvalidArgumentError('versions must be an object {table: version}');
  for (const [t, v] of Object.entries(versions)) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw new InvalidArgumentError(`versions.${t} must be an integer >= 1`, { details: { table: t, version: v } });
  }
}

function matchTable(listed: readonly TableVersion[], written: string): string | undefined {
  const exact = listed.find((t) => t.table === written);
  if (exact) return exact.table;
  // SQL identifiers are case-insensitive in DuckDB: accept another case when it names exactly one table.
  const folded = listed.filter((t) => t.table.toLowerCase() === written.toLowerCase());
  return folded.length === 1 ? folded[0]!.table : undefined;
}

/** DuckDB's own parser: `json_serialize_sql` serializes only SELECT-like statements, so anything else is refused here. */
async function parseSingleSelect(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>> {
  const reader = await conn.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR) AS ast', [sql], [VARCHAR]);
  const ast = JSON.parse(String(reader.getRowObjectsJson()[0]!.ast)) as { error?: boolean; error_type?: string; error_message?: string; statements?: Array<{ node: Record<string, unknown> }> };
  if (ast.error) {
    if (ast.error_type === 'parser') throw new InvalidArgumentError(`SQL syntax error: ${ast.error_message ?? ''}`.trim(), { details: { sql: sql.slice(0, 200) } });
    const kind = await statementKind(conn, sql);
    if (kind === 'MULTI') throw new QueryRefusedError('exactly one statement per query');
    throw new QueryRefusedError(`only read queries are allowed (SELECT, WITH, VALUES, TABLE, DESCRIBE, SHOW, SUMMARIZE); got ${kind ?? 'a statement that is not a plain query'}`, kind ? { statementType: kind } : undefined);
  }
  const statements = ast.statements ?? [];
  if (statements.length !== 1) throw new QueryRefusedError(statements.length === 0 ? 'no statement to run' : 'exactly one statement per query', { statements: statements.length });
  return statements[0]!.node;
}

/** The statement type DuckDB gives a refused statement, for the error message only (never executed). */
async function statementKind(conn: DuckDBConnection, sql: string): Promise<string | undefined> {
  try {
    const extracted = await conn.extractStatements(sql);
    if (extracted.count > 1) return 'MULTI';
    const prepared = await extracted.prepare(0);
    return StatementType[prepared.statementType];
  } catch (err) {
    const m = /^(\w+)\b/.exec(sql.trim());
    void err;
    return m ? m[1]!.toUpperCase() : undefined;
  }
}

/** DuckDB errors become typed errors: file access -> QUERY_REFUSED, anything else about the SQL -> INVALID_ARGUMENT. */
function translateError(err: unknown): unknown {
  if (isArmillariaError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/^Permission Error/.test(message)) return new QueryRefusedError(`refused by the sandbox: ${firstLine(message)}`);
  if (/^(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Not implemented|Constraint|Dependency) Error/.test(message)) {
    return new InvalidArgumentError(firstLine(message), { cause: err });
  }
  return err;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!;
}

/** The runs of the delta files a view reads (`read`, in layout order) and of those among them that are live. */
function deltaRuns(all: readonly ChunkInfo[], runStarts: readonly number[], read: readonly ChunkInfo[], live: ReadonlySet<string>): { paths: number[]; livePaths: number[] } {
  const runOf = runIndex(all.length, runStarts);
  const at = new Map(all.map((c, i) => [c, runOf[i]!]));
  const paths = read.map((c) => at.get(c)!);
  return { paths, livePaths: paths.filter((_, i) => live.has(read[i]!.hash)) };
}
