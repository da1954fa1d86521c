import { ErrorCode, InvalidArgumentError, isArmillariaError, isHash, serviceMetrics, type Hash } from '@armillaria/core';
import { loadHasher, type ChunkStore, type Hasher } from '@armillaria/chunk-store';
import { CatalogNotFoundError, PrimaryKeyRequiredError, RefConflictError, RepoExistsError, TableExistsError, withTableName } from './errors.js';
import type { RefStore } from './refs/ref-store.js';
import type { Manifest, TableFormat, WriteResult } from './table-format/table-format.js';
import { CommitStore } from './model/commit-store.js';
import { isOpMap, sameEntry, type TreeEntry, type TreeRecord } from './model/commit.js';
import { RefResolver } from './ref-resolver.js';
import { DeferredWrites } from './table-format/chunk-sink.js';
import { assertBranchName, assertRepoName, assertTableName, refNames } from './names.js';
import { keyTableOf, schemaFromManifest, schemaFromSpec, toArrowTable, upsertRowsOf } from './rows.js';
import { DEFAULT_AUTHOR, type CatalogContext, type CommitMeta } from './context.js';
import { tableVersionAt } from './ops/time-travel.js';
import { logOf } from './ops/log.js';
import { diffRefs } from './ops/diff.js';
import { mergeRefs } from './ops/merge.js';
import { revertCommit } from './ops/revert.js';
import * as branchOps from './ops/refs.js';
import type { Table } from 'apache-arrow';
import type {
  AsOf, BranchReflogEntry, CatalogApi, Commit, CommitChainOptions, CommitResult, CommitTreeOptions, TreeInput, CreateRepoOptions, CreateTableOptions, DiffOptions, DiffResult,
  LogEntry, LogOptions, MergeOptions, MergeResult, NewColumn, ReadTableOptions, RefInfo, RefOptions, RepoInfo, Rows,
  RestoreTableOptions, TableDescription, TableRefOptions, TableVersion, WriteOptions,
} from './catalog-api.js';

export interface CatalogOptions {
  chunks: ChunkStore;
  refs: RefStore;
  /** How table versions are stored. */
  format: TableFormat;
  /** Parsed commits and trees kept in memory: the most recently used 50,000 of each by default, up to twice as many held. */
  cacheSize?: number;
  /**
   * Most generations of first-parent history one time-travel index (lineage) holds per branch tip
   * (default 100,000; by estimate ~25 bytes each while the commits are cached, ~180 when not): lookups further back
   * take the skip pointers, O(log n) commit reads.
   */
  lineageLimit?: number;
  /** Rebases of a write over concurrent commits to other tables before REF_CONFLICT (default 8). */
  maxRebases?: number;
  /** Hashes commits and trees before they are stored (BLAKE3, as the chunk store); default `loadHasher()`. */
  hasher?: Hasher;
}

/** Most commits one `commitChain` call takes. */
export const MAX_CHAIN_LENGTH = 256;

/** One commit of a chain: its tree is built once its parent (hash and tables) is known. */
interface ChainLink {
  meta: CommitMeta;
  tables: (parent: Hash, parentTables: TreeRecord['tables']) => TreeRecord['tables'];
}

/** One table's change inside `change`: `format` writes its blobs side by side with the commit's. */
type ApplyChange = (current: TreeEntry | undefined, base: Commit, format: TableFormat) => Promise<Change>;

interface Change {
  entry: TreeEntry | null;
  result?: WriteResult;
  /** The table already is `entry` (a write that changed no row): no commit, the branch stays. */
  unchanged?: boolean;
}

/**
 * The catalog in-process: repositories of versioned tables with Git-like history. Every write is
 * read head -> table format op -> new tree -> commit chunk -> one RefStore compare-and-swap; a
 * concurrent commit to another table is rebased over automatically, one to the same table surfaces
 * as REF_CONFLICT.
 */
export class Catalog implements CatalogApi, CatalogContext {
  readonly chunks: ChunkStore;
  readonly refs: RefStore;
  readonly format: TableFormat;
  readonly store: CommitStore;
  readonly resolver: RefResolver;
  private readonly repos = new Map<string, RepoInfo>();
  private readonly maxRebases: number;
  private readonly hasherOption: Hasher | undefined;
  private hasherLoad: Promise<Hasher> | undefined;

  constructor(options: CatalogOptions) {
    this.chunks = options.chunks;
    this.refs = options.refs;
    this.format = options.format;
    this.store = new CommitStore(options.chunks, options.cacheSize, options.lineageLimit);
    this.resolver = new RefResolver(options.refs, this.store);
    this.maxRebases = options.maxRebases ?? 8;
    this.hasherOption = options.hasher;
  }

  // ---- repositories

  async createRepo(name: string, opts: CreateRepoOptions = {}): Promise<RepoInfo> {
    assertRepoName(name);
    const defaultBranch = opts.defaultBranch ?? 'main';
    assertBranchName(defaultBranch);
    const info: RepoInfo = { name, defaultBranch, createdAt: Date.now() };
    const config = await this.store.putJson({ kind: 'repo', ...info });
    try {
      await this.refs.compareAndSwap(refNames.repo(name), null, config, { message: 'create repo', author: opts.author ?? DEFAULT_AUTHOR });
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.RefConflict)) throw new RepoExistsError(name);
      throw err;
    }
    const tree = await this.store.writeTree({ tables: {} });
    const root = await this.store.writeCommit({ parents: [], tree, message: `create repo ${name}`, author: opts.author ?? DEFAULT_AUTHOR, time: info.createdAt });
    await this.indexCommit(name, root.hash);
    await this.refs.compareAndSwap(refNames.branch(name, defaultBranch), null, root.hash, { message: 'create repo', author: opts.author ?? DEFAULT_AUTHOR, time: root.time });
    this.repos.set(name, info);
    return info;
  }

  async getRepo(name: string): Promise<RepoInfo> {
    return { ...(await this.repoInfo(name)) };
  }

  async listRepos(): Promise<RepoInfo[]> {
    const entries = await this.refs.list(refNames.reposPrefix);
    return Promise.all(entries.map((e) => this.getRepo(e.name.slice(refNames.reposPrefix.length))));
  }

  async repoInfo(name: string): Promise<RepoInfo> {
    assertRepoName(name);
    const cached = this.repos.get(name);
    if (cached) return cached;
    const config = await this.refs.get(refNames.repo(name));
    if (config === undefined) throw new CatalogNotFoundError(ErrorCode.RepoNotFound, `repo ${name} not found`, { repo: name });
    const raw = (await this.store.readJson(config, 'repo config')) as RepoInfo;
    const info: RepoInfo = { name: raw.name, defaultBranch: raw.defaultBranch, createdAt: raw.createdAt };
    this.repos.set(name, info);
    return info;
  }

  // ---- low-level pieces

  async resolve(repo: string, ref?: string, opts: { asOf?: AsOf } = {}): Promise<Commit> {
    return this.resolver.resolve(await this.repoInfo(repo), ref, opts.asOf);
  }

  async readCommit(repo: string, hash: Hash): Promise<Commit> {
    return this.resolver.commitOf(await this.repoInfo(repo), hash);
  }

  async readTree(repo: string, hash: Hash): Promise<TreeRecord> {
    await this.repoInfo(repo);
    return this.store.readTree(hash);
  }

  async commitTree(repo: string, branch: string, opts: CommitTreeOptions): Promise<Commit> {
    const info = await this.repoInfo(repo);
    assertBranchName(branch);
    const tree = checkedTree(opts?.tree, 'commitTree needs tree: {tables: {...}}', { repo, branch });
    const base = await this.resolver.commitOf(info, opts.baseCommit);
    const baseTables = (await this.store.readTree(base.tree)).tables;
    const meta: CommitMeta = { message: opts.message ?? 'commit', author: opts.author ?? DEFAULT_AUTHOR };
    if (opts.txnId !== undefined) meta.txnId = opts.txnId;
    if (opts.mergeParents !== undefined) {
      if (!Array.isArray(opts.mergeParents)) throw new InvalidArgumentError('mergeParents must be an array of commit hashes');
      for (const p of opts.mergeParents) await this.resolver.commitOf(info, p);
      if (opts.mergeParents.length) meta.mergeParents = [...opts.mergeParents];
    }
    return this.commitTables(info, branch, base.hash, withOrigins(tree, baseTables, base.hash), meta);
  }

  async commitChain(repo: string, branch: string, opts: CommitChainOptions): Promise<Commit[]> {
    const info = await this.repoInfo(repo);
    assertBranchName(branch);
    const items = opts?.commits;
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_CHAIN_LENGTH) {
      throw new InvalidArgumentError(`commitChain needs 1-${MAX_CHAIN_LENGTH} commits`, { details: { repo, branch } });
    }
    // Every input is checked before anything is written: a bad member fails the whole chain.
    const links = items.map((c, i): ChainLink => {
      const tree = checkedTree(c?.tree, `commitChain: commit ${i} needs tree: {tables: {...}}`, { repo, branch, index: i });
      for (const [k, v] of [['message', c.message], ['author', c.author], ['txnId', c.txnId]] as const) {
        if (v !== undefined && typeof v !== 'string') throw new InvalidArgumentError(`commitChain: commit ${i} has a non-string ${k}`, { details: { index: i } });
      }
      const meta: CommitMeta = { message: c.message ?? 'commit', author: c.author ?? DEFAULT_AUTHOR };
      if (c.txnId !== undefined) meta.txnId = c.txnId;
      if (c.ops !== undefined) {
        if (!isOpMap(c.ops)) {
          throw new InvalidArgumentError(`commitChain: commit ${i} has bad ops (table name -> lowercase op name)`, { details: { index: i } });
        }
        meta.ops = { ...c.ops };
      }
      return { meta, tables: (parent, parentTables) => withOrigins(tree, parentTables, parent) };
    });
    if (opts.beforeSwap !== undefined && typeof opts.beforeSwap !== 'function') throw new InvalidArgumentError('commitChain: beforeSwap must be a function');
    const base = await this.resolver.commitOf(info, opts.baseCommit);
    return this.landChain(info, branch, base, links, opts.beforeSwap);
  }

  async branchHead(repo: RepoInfo, branch: string): Promise<Commit> {
    assertBranchName(branch);
    const head = await this.refs.get(refNames.branch(repo.name, branch));
    if (head === undefined) throw new CatalogNotFoundError(ErrorCode.BranchNotFound, `branch ${branch} not found in repo ${repo.name}`, { repo: repo.name, branch });
    return this.store.readCommit(head);
  }

  /** `writes`: blobs of these tables still being written (see `change`), waited for before the commit is indexed. */
  async commitTables(repo: RepoInfo, branch: string, base: Hash, tables: TreeRecord['tables'], meta: CommitMeta, writes?: DeferredWrites): Promise<Commit> {
    const parent = await this.store.readCommit(base);
    const [commit] = await this.landChain(repo, branch, parent, [{ meta, tables: () => tables }], undefined, writes);
    return commit as Commit;
  }

  /**
   * Writes a chain of commits on `base` (each the first parent of the next) and moves `branch` from
   * `base` to the last with ONE compare-and-swap, so the chain lands whole or not at all. Commits and
   * trees are hashed here first, so every chunk is written in parallel; then the commit index gets an
   * entry per commit (in parallel, before the swap: a reachable commit is always indexed, and an entry
   * whose commit never landed names a real, merely unreachable commit that gc prunes with it); then
   * the swap, whose reflog records one move from `base` to the last commit. `beforeSwap` runs alongside
   * the writes; the swap waits for both.
   */
  private async landChain(repo: RepoInfo, branch: string, base: Commit, links: readonly ChainLink[], beforeSwap?: () => Promise<void>, writes?: DeferredWrites): Promise<Commit[]> {
    const hasher = await this.hasher();
    const hash = (bytes: Uint8Array): Hash => hasher.hash(bytes);
    const trees: Array<ReturnType<CommitStore['draftTree']>> = [];
    const commits: Array<ReturnType<CommitStore['draftCommit']>> = [];
    let parent = base;
    let parentTables = (await this.store.readTree(base.tree)).tables;
    for (const link of links) {
      const tables = link.tables(parent.hash, parentTables);
      const tree = this.store.draftTree({ tables }, hash);
      const { meta } = link;
      const draft = this.store.draftCommit({
        parents: [parent.hash, ...(meta.mergeParents ?? [])], tree: tree.hash, message: meta.message, author: meta.author,
        ...(meta.txnId !== undefined ? { txnId: meta.txnId } : {}),
        ...(meta.ops !== undefined ? { ops: meta.ops } : {}),
      }, parent, hash);
      trees.push(tree);
      commits.push(draft);
      parent = draft.commit;
      parentTables = tables;
    }
    const hashes = commits.map((c) => c.commit.hash);
    // Only entries this call created are dropped on failure (an identical commit may be indexed already).
    const indexed: Hash[] = [];
    const unindex = (): Promise<unknown> => Promise.all(indexed.map((h) => this.refs.compareAndSwap(refNames.commit(repo.name, h), h, null).catch(() => undefined)));
    const [written, ready] = await Promise.allSettled([
      // Chunks first (with those a table op of this change is still writing, see `change`), then their
      // index entries: an entry never names a chunk gc could see missing.
      this.store.putDrafts(trees, commits).then(() => writes?.settle()).then(() => Promise.all(hashes.map(async (h) => {
        if (await this.indexCommit(repo.name, h)) indexed.push(h);
      }))),
      beforeSwap ? Promise.resolve().then(beforeSwap) : Promise.resolve(),
    ]);
    for (const r of [ready, written]) {
      if (r.status === 'rejected') {
        await unindex();
        throw r.reason;
      }
    }
    const last = parent;
    try {
      await this.refs.compareAndSwap(refNames.branch(repo.name, branch), base.hash, last.hash, { message: last.message, author: last.author, time: last.time });
    } catch (err) {
      // The chain never became visible: drop it from the prefix index (best effort; a leftover entry
      // names a real, merely unreachable commit).
      await unindex();
      if (isArmillariaError(err, ErrorCode.RefConflict) && (await this.refs.get(refNames.branch(repo.name, branch))) === undefined) {
        throw new CatalogNotFoundError(ErrorCode.BranchNotFound, `branch ${branch} not found in repo ${repo.name}`, { repo: repo.name, branch });
      }
      throw err;
    }
    // Every branch move of the catalog passes here: single operations, merges, reverts, transactions.
    serviceMetrics.commits.inc(commits.length);
    return commits.map((c) => c.commit);
  }

  private hasher(): Promise<Hasher> {
    this.hasherLoad ??= this.hasherOption ? Promise.resolve(this.hasherOption) : loadHasher();
    return this.hasherLoad;
  }

  /** True when this call created the entry. */
  private async indexCommit(repo: string, hash: Hash): Promise<boolean> {
    try {
      await this.refs.compareAndSwap(refNames.commit(repo, hash), null, hash);
      return true;
    } catch (err) {
      // Same commit written twice (identical content): already indexed.
      if (!isArmillariaError(err, ErrorCode.RefConflict)) throw err;
      return false;
    }
  }

  async tableVersion(repo: string, table: string, opts: TableRefOptions = {}): Promise<TableVersion> {
    const info = await this.repoInfo(repo);
    assertTableName(table);
    const at = await this.resolver.resolve(info, opts.ref, opts.asOf);
    return tableVersionAt(this, info, table, at, opts.version);
  }

  // ---- tables

  async listTables(repo: string, opts: RefOptions = {}): Promise<TableVersion[]> {
    const commit = await this.resolve(repo, opts.ref, opts);
    const tree = await this.store.readTree(commit.tree);
    return Object.keys(tree.tables).sort().map((table) => {
      const e = tree.tables[table] as TreeEntry;
      return { table, version: e.version, manifest: e.manifest, commit: commit.hash };
    });
  }

  async describeTable(repo: string, table: string, opts: TableRefOptions = {}): Promise<TableDescription> {
    const v = await this.tableVersion(repo, table, opts);
    const m = await this.format.readManifest(v.manifest);
    const chunks = m.chunks?.length ?? (m.pages ?? []).reduce((n, p) => n + p.chunks, 0);
    const out: TableDescription = { ...v, schema: { fields: m.schema.fields.map((f) => ({ ...f })) }, rows: m.rows, bytes: m.bytes, chunks };
    if (m.primaryKey) out.primaryKey = [...m.primaryKey];
    if (m.delta) out.pending = { rows: m.delta.rows, deletes: m.delta.deletes };
    return out;
  }

  async read(repo: string, table: string, opts: ReadTableOptions = {}): Promise<Table> {
    const v = await this.tableVersion(repo, table, opts);
    const readOpts: { columns?: readonly string[]; range?: ReadTableOptions['range'] } = {};
    if (opts.columns) readOpts.columns = opts.columns;
    if (opts.range) readOpts.range = opts.range;
    return this.format.read(v.manifest, readOpts);
  }

  async createTable(repo: string, table: string, opts: CreateTableOptions): Promise<CommitResult> {
    assertTableName(table);
    if (!opts.schema && !opts.rows) throw new InvalidArgumentError('createTable needs a schema or rows', { details: { table } });
    const schema = opts.schema ? schemaFromSpec(opts.schema) : undefined;
    const rows = toArrowTable(opts.rows ?? [], schema, opts.primaryKey ? { integerColumns: opts.primaryKey } : {});
    return this.change(repo, table, opts, `create table ${table}`, async (current, base, format) => {
      if (current) throw new TableExistsError(repo, table);
      const primaryKey = opts.primaryKey ? [...opts.primaryKey] : undefined;
      const result = await format.write(rows, primaryKey ? { primaryKey } : {});
      return { entry: { manifest: result.manifest, version: 1, origin: base.hash }, result };
    });
  }

  async dropTable(repo: string, table: string, opts: WriteOptions = {}): Promise<CommitResult> {
    assertTableName(table);
    return this.change(repo, table, opts, `drop table ${table}`, async (current) => {
      this.mustExist(repo, table, current);
      return { entry: null };
    });
  }

  async write(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.changeRows(repo, table, opts, 'write', async (cur, m, format) => {
      const data = toArrowTable(rows, schemaFromManifest(m));
      return format.write(data, m.primaryKey ? { primaryKey: m.primaryKey, previous: cur.manifest } : { previous: cur.manifest });
    });
  }

  async append(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.changeRows(repo, table, opts, 'append', (cur, m, format) => format.append(cur.manifest, toArrowTable(rows, schemaFromManifest(m))));
  }

  async upsert(repo: string, table: string, rows: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.changeRows(repo, table, opts, 'upsert', (cur, m, format) => {
      if (!m.primaryKey?.length) throw new PrimaryKeyRequiredError(table, 'upsert');
      const given = upsertRowsOf(rows, m);
      return format.upsert(cur.manifest, given.rows, given.kept ? { kept: given.kept } : {});
    });
  }

  async deleteRows(repo: string, table: string, keys: Rows, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.changeRows(repo, table, opts, 'delete', (cur, m, format) => {
      const pk = m.primaryKey;
      if (!pk?.length) throw new PrimaryKeyRequiredError(table, 'delete by key');
      return format.deleteKeys(cur.manifest, keyTableOf(keys, m));
    });
  }

  async addColumn(repo: string, table: string, column: NewColumn, opts: WriteOptions = {}): Promise<CommitResult> {
    return this.changeRows(repo, table, opts, `add column ${column?.name} to`, (cur, _m, format) => format.addColumn(cur.manifest, column));
  }

  /**
   * A new version of `table` with the same rows laid out for reading (TableFormat.compact): a keyed
   * table's merge-on-read delta folded into its base, an unkeyed table's small appended chunks merged.
   * Committed as `compact <table>`; the changelog reports it as `compacted`, with no row changes. A table
   * that is already compact gets no commit: the result is `unchanged`, names the branch head and writes nothing.
   */
  async compactTable(repo: string, table: string, opts: WriteOptions = {}): Promise<CommitResult> {
    assertTableName(table);
    const info = await this.repoInfo(repo);
    const head = await this.branchHead(info, opts.branch ?? info.defaultBranch);
    const cur = this.mustExist(repo, table, (await this.store.readTree(head.tree)).tables[table]);
    const done = await this.format.compact(cur.manifest);
    if (done.manifest === cur.manifest) {
      return { commit: head, unchanged: true, table, version: cur.version, manifest: cur.manifest, rows: done.rows, chunksWritten: 0, chunksReused: done.chunksReused };
    }
    // The table moved since `head` was read: compact what is there now (the CAS in `change` checks it).
    return this.changeRows(repo, table, opts, 'compact', (c, _m, format) => (c.manifest === cur.manifest ? Promise.resolve(done) : format.compact(c.manifest)));
  }

  async restoreTable(repo: string, table: string, opts: RestoreTableOptions): Promise<CommitResult> {
    assertTableName(table);
    const info = await this.repoInfo(repo);
    const branch = opts?.branch ?? info.defaultBranch;
    if (opts?.version === undefined && opts?.ref === undefined && opts?.asOf === undefined) {
      throw new InvalidArgumentError('restoreTable needs the version to bring back: version, ref or asOf', { details: { table } });
    }
    const head = await this.branchHead(info, branch); // BRANCH_NOT_FOUND before any lookup on it
    const target = await this.tableVersion(repo, table, {
      ref: opts.ref ?? branch, ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}), ...(opts.version !== undefined ? { version: opts.version } : {}),
    });
    const rows = (await this.format.readManifest(target.manifest)).rows;
    const now = (await this.store.readTree(head.tree)).tables[table];
    if (now?.manifest === target.manifest) return { commit: head, unchanged: true, table, version: now.version, manifest: now.manifest, rows };
    const restored: WriteResult = { manifest: target.manifest, rows, chunksWritten: 0, chunksReused: 0, bytesWritten: 0 };
    return this.change(repo, table, opts, `restore ${table} to v${target.version} of ${target.commit.slice(0, 12)}`, async (current, base) => ({
      // The same manifest under the next version number: zero copy. A table dropped since starts over.
      entry: current ? { manifest: target.manifest, version: current.version + 1, origin: current.origin } : { manifest: target.manifest, version: 1, origin: base.hash },
      result: restored,
    }));
  }

  private async changeRows(
    repo: string, table: string, opts: WriteOptions, verb: string,
    op: (current: TreeEntry, manifest: Manifest, format: TableFormat) => Promise<WriteResult>,
  ): Promise<CommitResult> {
    assertTableName(table);
    return this.change(repo, table, opts, `${verb} ${table}`, async (current, _base, format) => {
      const cur = this.mustExist(repo, table, current);
      const result = await op(cur, await this.format.readManifest(cur.manifest), format);
      // Rows the table holds as they are (an upsert of them, an empty append) change nothing: no new version.
      if (result.manifest === cur.manifest) return { entry: cur, result, unchanged: true };
      return { entry: { manifest: result.manifest, version: cur.version + 1, origin: cur.origin }, result };
    });
  }

  private mustExist(repo: string, table: string, entry: TreeEntry | undefined): TreeEntry {
    if (!entry) throw new CatalogNotFoundError(ErrorCode.TableNotFound, `table ${table} not found in repo ${repo}`, { repo, table });
    return entry;
  }

  /**
   * One table change as a commit. The format op runs once; if the CAS loses to a commit that left
   * this table alone, the same new entry is put on the new head's tree and the CAS retried.
   */
  private change(repo: string, table: string, opts: WriteOptions, defaultMessage: string, apply: ApplyChange): Promise<CommitResult> {
    // `apply` gets a format whose blobs are still being written when it returns, while the tree and
    // commit are written too: landChain waits for all of them before the commit is indexed or the branch
    // moves (one round of writes, not two), and `around` waits for them on every other way out.
    return DeferredWrites.around((writes) => this.changeNow(repo, table, opts, defaultMessage, apply, writes));
  }

  private async changeNow(repo: string, table: string, opts: WriteOptions, defaultMessage: string, apply: ApplyChange, writes: DeferredWrites): Promise<CommitResult> {
    const info = await this.repoInfo(repo);
    const branch = opts.branch ?? info.defaultBranch;
    let base = await this.branchHead(info, branch);
    let tables = (await this.store.readTree(base.tree)).tables;
    const before = tables[table];
    const change = await apply(before, base, this.format.deferringWrites?.(writes) ?? this.format).catch((err: unknown) => {
      throw withTableName(err, table);
    });
    if (change.unchanged && change.entry) {
      const r = change.result;
      return { commit: base, unchanged: true, table, version: change.entry.version, manifest: change.entry.manifest, ...(r ? { rows: r.rows, chunksWritten: 0, chunksReused: r.chunksReused } : {}) };
    }
    const meta: CommitMeta = { message: opts.message ?? defaultMessage, author: opts.author ?? DEFAULT_AUTHOR };
    if (opts.txnId !== undefined) meta.txnId = opts.txnId;
    for (let attempt = 0; ; attempt++) {
      const next = { ...tables };
      if (change.entry) next[table] = change.entry;
      else delete next[table];
      try {
        const commit = await this.commitTables(info, branch, base.hash, next, meta, writes);
        const out: CommitResult = { commit, table };
        if (change.entry) Object.assign(out, { version: change.entry.version, manifest: change.entry.manifest });
        if (change.result) Object.assign(out, { rows: change.result.rows, chunksWritten: change.result.chunksWritten, chunksReused: change.result.chunksReused });
        return out;
      } catch (err) {
        if (!(err instanceof RefConflictError || isArmillariaError(err, ErrorCode.RefConflict)) || attempt >= this.maxRebases) throw err;
        base = await this.branchHead(info, branch);
        tables = (await this.store.readTree(base.tree)).tables;
        if (!sameEntry(tables[table], before)) throw err;
      }
    }
  }

  // ---- history

  async log(repo: string, opts: LogOptions = {}): Promise<LogEntry[]> {
    const info = await this.repoInfo(repo);
    if (opts.table !== undefined) assertTableName(opts.table);
    const from = await this.resolver.resolve(info, opts.ref, opts.asOf);
    return logOf(this, from, opts);
  }

  // ---- branches and tags

  async createBranch(repo: string, name: string, opts: { from?: string; asOf?: AsOf } = {}): Promise<RefInfo> {
    return branchOps.createBranch(this, await this.repoInfo(repo), name, opts);
  }

  async getBranch(repo: string, name: string): Promise<RefInfo> {
    const head = await this.branchHead(await this.repoInfo(repo), name);
    return { name, commit: head.hash };
  }

  async branchReflog(repo: string, name: string, opts: { limit?: number; before?: AsOf } = {}): Promise<BranchReflogEntry[]> {
    return branchOps.branchReflog(this, await this.repoInfo(repo), name, opts);
  }

  async listBranches(repo: string): Promise<RefInfo[]> {
    return branchOps.listRefs(this, (await this.repoInfo(repo)).name, 'branch');
  }

  async deleteBranch(repo: string, name: string): Promise<void> {
    return branchOps.deleteBranch(this, await this.repoInfo(repo), name);
  }

  async createTag(repo: string, name: string, opts: { ref?: string; asOf?: AsOf } = {}): Promise<RefInfo> {
    return branchOps.createTag(this, await this.repoInfo(repo), name, opts);
  }

  async listTags(repo: string): Promise<RefInfo[]> {
    return branchOps.listRefs(this, (await this.repoInfo(repo)).name, 'tag');
  }

  async deleteTag(repo: string, name: string): Promise<void> {
    return branchOps.deleteTag(this, await this.repoInfo(repo), name);
  }

  // ---- compare and combine

  async diff(repo: string, from: string, to: string, opts: DiffOptions = {}): Promise<DiffResult> {
    const info = await this.repoInfo(repo);
    if (opts.table !== undefined) assertTableName(opts.table);
    const [a, b] = await Promise.all([this.resolver.resolve(info, from), this.resolver.resolve(info, to)]);
    return diffRefs(this, a, b, opts);
  }

  async merge(repo: string, opts: MergeOptions): Promise<MergeResult> {
    return mergeRefs(this, await this.repoInfo(repo), opts);
  }

  async revert(repo: string, commit: string, opts: WriteOptions = {}): Promise<CommitResult> {
    return revertCommit(this, await this.repoInfo(repo), commit, opts);
  }

  async close(): Promise<void> {
    // The stores belong to whoever built them; the catalog holds nothing else open.
  }
}

/** A commit's tree input, checked: table names, manifest hashes, versions >= 1, origins. */
function checkedTree(tree: TreeInput | undefined, missing: string, details: Record<string, unknown>): TreeInput {
  if (!tree || typeof tree.tables !== 'object' || tree.tables === null || Array.isArray(tree.tables)) {
    // A missing tree must not read as "no tables": that commit would drop every table.
    throw new InvalidArgumentError(missing, { details });
  }
  for (const [name, e] of Object.entries(tree.tables)) {
    assertTableName(name);
    if (!isHash(e?.manifest) || !Number.isInteger(e.version) || e.version < 1) {
      throw new InvalidArgumentError(`tree entry of table ${name} needs a manifest hash and a version >= 1`, { details: { table: name } });
    }
    if (e.origin !== undefined && !isHash(e.origin)) throw new InvalidArgumentError(`tree entry of table ${name} has a bad origin`, { details: { table: name } });
  }
  return tree;
}

/** The tree's entries with `origin` filled in: from the parent's tree, or the parent commit for a new table. */
function withOrigins(tree: TreeInput, parentTables: TreeRecord['tables'], parent: Hash): TreeRecord['tables'] {
  const tables: TreeRecord['tables'] = {};
  for (const [name, e] of Object.entries(tree.tables)) {
    tables[name] = { manifest: e.manifest, version: e.version, origin: e.origin ?? parentTables[name]?.origin ?? parent };
  }
  return tables;
}
