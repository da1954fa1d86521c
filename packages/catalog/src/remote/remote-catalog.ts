import { ArmillariaError, ErrorCode, HttpClient, type Hash, type HttpClientOptions } from '@armillaria/core';
import { Schema, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { CatalogNotFoundError, MergeConflictError, RefConflictError } from '../errors.js';
import { jsonSafe, toArrowTable } from '../rows.js';
import { ARROW_STREAM } from '../server/http-args.js';
import type { TreeRecord } from '../model/commit.js';
import type {
  AsOf, BranchReflogEntry, CatalogApi, Commit, CommitResult, CommitChainOptions, CommitTreeOptions, CreateRepoOptions, CreateTableOptions, DiffOptions, DiffResult,
  LogEntry, LogOptions, MergeOptions, MergeResult, NewColumn, ReadTableOptions, RefInfo, RefOptions, RepoInfo, Rows,
  RestoreTableOptions, TableDescription, TableRefOptions, TableVersion, WriteOptions,
} from '../catalog-api.js';

export type RemoteCatalogOptions = HttpClientOptions;

const NOT_FOUND_CODES = new Set<string>([
  ErrorCode.TableNotFound, ErrorCode.BranchNotFound, ErrorCode.TagNotFound, ErrorCode.RefNotFound,
  ErrorCode.CommitNotFound, ErrorCode.VersionNotFound, ErrorCode.RepoNotFound,
]);

/** Server errors back into the catalog's own classes where they carry structure callers use. */
function typed(err: unknown): unknown {
  if (!(err instanceof ArmillariaError) || err.constructor !== ArmillariaError) return err;
  const d = (err.details ?? {}) as Record<string, unknown>;
  if (err.code === ErrorCode.MergeConflict && Array.isArray(d.conflicts)) return new MergeConflictError(err.message, d.conflicts as Array<Record<string, unknown>>);
  if (err.code === ErrorCode.RefConflict && typeof d.ref === 'string') {
    return new RefConflictError(d.ref, (d.expected as string | null) ?? null, (d.actual as string | null) ?? null);
  }
  if (NOT_FOUND_CODES.has(err.code)) return new CatalogNotFoundError(err.code as typeof ErrorCode.TableNotFound, err.message, { ...d });
  return err;
}

const enc = encodeURIComponent;

/**
 * The catalog over HTTP, implementing the same `CatalogApi` as the embedded `Catalog`: table data
 * travels as Arrow IPC streams, errors come back as the same typed errors with the same codes.
 */
export class RemoteCatalog implements CatalogApi {
  private readonly http: HttpClient;

  constructor(options: RemoteCatalogOptions) {
    this.http = new HttpClient(options);
  }

  private async call<T>(path: string, opts: { method?: string; json?: unknown; query?: Record<string, unknown> } = {}): Promise<T> {
    try {
      const init: { method?: string; json?: unknown } = {};
      if (opts.method) init.method = opts.method;
      if (opts.json !== undefined) init.json = opts.json;
      return await this.http.json<T>(path + qs(opts.query), init);
    } catch (err) {
      throw typed(err);
    }
  }

  private async sendRows<T>(path: string, rows: Rows, q: Record<string, unknown>): Promise<T> {
    if (rows instanceof Table) {
      try {
        const res = await this.http.request(path + qs(q), {
          method: 'POST', body: tableToIPC(rows, 'stream'), headers: { 'content-type': ARROW_STREAM },
        });
        return (await res.json()) as T;
      } catch (err) {
        throw typed(err);
      }
    }
    return this.call<T>(path, { method: 'POST', json: { rows: jsonSafe(rows) }, query: q });
  }

  private repo(repo: string): string {
    return `/repos/${enc(repo)}`;
  }

  private table(repo: string, table: string): string {
    return `${this.repo(repo)}/tables/${enc(table)}`;
  }

  createRepo(name: string, opts: CreateRepoOptions = {}): Promise<RepoInfo> {
    return this.call('/repos', { method: 'POST', json: { name, ...opts } });
  }
  getRepo(name: string): Promise<RepoInfo> {
    return this.call(this.repo(name));
  }
  async listRepos(): Promise<RepoInfo[]> {
    return (await this.call<{ repos: RepoInfo[] }>('/repos')).repos;
  }

  resolve(repo: string, ref?: string, opts: { asOf?: AsOf } = {}): Promise<Commit> {
    return this.call(`${this.repo(repo)}/resolve`, { query: { ref, asOf: asOfText(opts.asOf) } });
  }
  readCommit(repo: string, hash: Hash): Promise<Commit> {
    return this.call(`${this.repo(repo)}/commits/${enc(hash)}`);
  }
  readTree(repo: string, hash: Hash): Promise<TreeRecord> {
    return this.call(`${this.repo(repo)}/trees/${enc(hash)}`);
  }
  commitTree(repo: string, branch: string, opts: CommitTreeOptions): Promise<Commit> {
    return this.call(`${this.repo(repo)}/commits`, { method: 'POST', json: { branch, ...opts } });
  }
  async commitChain(repo: string, branch: string, opts: CommitChainOptions): Promise<Commit[]> {
    const { beforeSwap, ...rest } = opts ?? ({} as CommitChainOptions);
    if (beforeSwap !== undefined) await beforeSwap();
    return (await this.call<{ commits: Commit[] }>(`${this.repo(repo)}/chains`, { method: 'POST', json: { branch, ...rest } })).commits;
  }
  tableVersion(repo: string, table: string, opts: TableRefOptions = {}): Promise<TableVersion> {
    return this.call(`${this.table(repo, table)}/version`, { query: tableRefQuery(opts) });
  }

  async listTables(repo: string, opts: RefOptions = {}): Promise<TableVersion[]> {
    return (await this.call<{ tables: TableVersion[] }>(`${this.repo(repo)}/tables`, { query: { ref: opts.ref, asOf: asOfText(opts.asOf) } })).tables;
  }
  describeTable(repo: string, table: string, opts: TableRefOptions = {}): Promise<TableDescription> {
    return this.call(`${this.table(repo, table)}/describe`, { query: tableRefQuery(opts) });
  }
  createTable(repo: string, table: string, opts: CreateTableOptions): Promise<CommitResult> {
    const { schema, rows, primaryKey, ...write } = opts;
    if (rows instanceof Table || schema instanceof Schema) {
      const data = rows instanceof Table ? rows : toArrowTable(rows ?? [], schema as Schema);
      return this.sendRows(this.table(repo, table), data, { ...write, primaryKey: primaryKey?.join(',') });
    }
    return this.call(this.table(repo, table), { method: 'POST', json: { ...opts, ...(rows ? { rows: jsonSafe(rows) } : {}) } });
  }
  dropTable(repo: string, table: string, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.call(this.table(repo, table), { method: 'DELETE', query: { ...opts } });
  }
  write(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.sendRows(`${this.table(repo, table)}/write`, rows, { ...opts });
  }
  append(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.sendRows(`${this.table(repo, table)}/append`, rows, { ...opts });
  }
  upsert(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.sendRows(`${this.table(repo, table)}/upsert`, rows, { ...opts });
  }
  deleteRows(repo: string, table: string, keys: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.sendRows(`${this.table(repo, table)}/delete`, keys, { ...opts });
  }
  addColumn(repo: string, table: string, column: NewColumn, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.call(`${this.table(repo, table)}/columns`, { method: 'POST', json: { ...jsonSafe(column) as NewColumn, ...opts } });
  }
  restoreTable(repo: string, table: string, opts: RestoreTableOptions): Promise<CommitResult> {
    return this.call(`${this.table(repo, table)}/restore`, { method: 'POST', json: { ...opts, ...(opts?.asOf instanceof Date ? { asOf: opts.asOf.getTime() } : {}) } });
  }

  compactTable(repo: string, table: string, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.call(`${this.table(repo, table)}/compact`, { method: 'POST', json: { ...opts } });
  }
  async read(repo: string, table: string, opts: ReadTableOptions = {}): Promise<Table> {
    const q: Record<string, unknown> = tableRefQuery(opts);
    if (opts.columns) q.columns = opts.columns.join(',');
    if (opts.range) q.range = JSON.stringify(jsonSafe(opts.range));
    try {
      const res = await this.http.request(this.table(repo, table) + qs(q));
      return tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    } catch (err) {
      throw typed(err);
    }
  }

  async log(repo: string, opts: LogOptions = {}): Promise<LogEntry[]> {
    const q = { ref: opts.ref, asOf: asOfText(opts.asOf), table: opts.table, limit: opts.limit };
    return (await this.call<{ commits: LogEntry[] }>(`${this.repo(repo)}/log`, { query: q })).commits;
  }

  createBranch(repo: string, name: string, opts: { from?: string; asOf?: AsOf } = {}): Promise<RefInfo> {
    return this.call(`${this.repo(repo)}/branches`, { method: 'POST', json: { name, from: opts.from, asOf: asOfText(opts.asOf) } });
  }
  getBranch(repo: string, name: string): Promise<RefInfo> {
    return this.call(`${this.repo(repo)}/branches/${branchPath(name)}`);
  }
  async branchReflog(repo: string, name: string, opts: { limit?: number; before?: AsOf } = {}): Promise<BranchReflogEntry[]> {
    const q = { branch: name, limit: opts.limit, before: asOfText(opts.before) };
    return (await this.call<{ entries: BranchReflogEntry[] }>(`${this.repo(repo)}/reflog`, { query: q })).entries;
  }
  async listBranches(repo: string): Promise<RefInfo[]> {
    return (await this.call<{ branches: RefInfo[] }>(`${this.repo(repo)}/branches`)).branches;
  }
  async deleteBranch(repo: string, name: string): Promise<void> {
    await this.call(`${this.repo(repo)}/branches/${branchPath(name)}`, { method: 'DELETE' });
  }
  createTag(repo: string, name: string, opts: { ref?: string; asOf?: AsOf } = {}): Promise<RefInfo> {
    return this.call(`${this.repo(repo)}/tags`, { method: 'POST', json: { name, ref: opts.ref, asOf: asOfText(opts.asOf) } });
  }
  async listTags(repo: string): Promise<RefInfo[]> {
    return (await this.call<{ tags: RefInfo[] }>(`${this.repo(repo)}/tags`)).tags;
  }
  async deleteTag(repo: string, name: string): Promise<void> {
    await this.call(`${this.repo(repo)}/tags/${enc(name)}`, { method: 'DELETE' });
  }

  diff(repo: string, from: string, to: string, opts: DiffOptions = {}): Promise<DiffResult> {
    return this.call(`${this.repo(repo)}/diff`, { query: { from, to, table: opts.table, rows: opts.rows ? 'true' : undefined } });
  }
  merge(repo: string, opts: MergeOptions): Promise<MergeResult> {
    return this.call(`${this.repo(repo)}/merge`, { method: 'POST', json: opts });
  }
  revert(repo: string, commit: string, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.call(`${this.repo(repo)}/revert`, { method: 'POST', json: { commit, ...opts } });
  }

  async close(): Promise<void> {
    // fetch keeps no connection state the client owns.
  }
}

function qs(q: Record<string, unknown> | undefined): string {
  if (!q) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

function asOfText(asOf: AsOf | undefined): string | undefined {
  if (asOf === undefined) return undefined;
  return asOf instanceof Date ? String(asOf.getTime()) : String(asOf);
}

function tableRefQuery(opts: TableRefOptions): Record<string, unknown> {
  return { ref: opts.ref, asOf: asOfText(opts.asOf), version: opts.version };
}

/** Branch names keep their `/` (the route is a wildcard); each segment is encoded. */
function branchPath(name: string): string {
  return String(name).split('/').map(enc).join('/');
}
