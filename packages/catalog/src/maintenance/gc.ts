import { randomUUID } from 'node:crypto';
import { ArmillariaError, ErrorCode, InvalidArgumentError, isArmillariaError, type Hash } from '@armillaria/core';
import { DEFAULT_REFRESH_AFTER_MS, ObjectChunkStore, type ChunkStat } from '@armillaria/chunk-store';
import type { Catalog } from '../catalog.js';
import { refNames } from '../names.js';
import type { ExpireReflogResult } from '../refs/ref-store.js';
import { ManifestReader } from '../table-format/manifest-io.js';
import { HashSet } from './hash-set.js';
import type { GcRootSource } from './gc-roots.js';
import { ObjectStoreGcState, type GcState, type GcStateStore } from './gc-state.js';
import { ReachabilityWalker, type WalkProblem } from './reachability.js';
import { renewedChunks, type SweptRange } from './renewed-chunks.js';
import { DEFAULT_GRACE_MS, DEFAULT_RETAIN_HISTORY_MS, checkMs, forEachIndexedCommit, listRepoNames, recentUnnamedCommits, repoRoots, type RetentionPolicy } from './retention.js';

export interface GcOptions {
  /** Report what would be deleted (counts and bytes) and delete nothing. Default false. */
  dryRun?: boolean;
  /** Chunks written less than this long ago are never swept; must exceed the longest transaction. Default 1 hour. */
  graceMs?: number;
  /** History kept for time travel in every repo (see RetentionPolicy). Default 7 days. */
  retainHistoryMs?: number;
  /** Per-repo overrides of `retainHistoryMs`. */
  repoRetention?: Readonly<Record<string, RetentionPolicy>>;
  /** Live roots besides refs, e.g. `pendingTxnRoots(txnLog)` for the coordinator's PREPARED/COMMITTED records. */
  roots?: readonly GcRootSource[];
  /**
   * Where the mark set and sweep position are kept so an interrupted run resumes. Default: `gc/` in
   * the chunk store's object store (when it is an ObjectChunkStore); `false` keeps nothing.
   */
  state?: GcStateStore | false;
  /** Continue an interrupted run from its saved state (default true). False discards it. */
  resume?: boolean;
  /** Chunks per delete call (default 1000, S3's DeleteObjects limit). */
  deleteBatchSize?: number;
  /** Metadata reads in flight while marking (default 16). */
  concurrency?: number;
  onProgress?: (progress: GcProgress) => void;
  /** Aborting stops between batches with the signal's reason; a later run resumes. */
  signal?: AbortSignal;
  /** The moment taken as now (default Date.now()): grace and retention are measured back from it. */
  now?: number;
}

export interface ByteCount {
  chunks: number;
  bytes: number;
}

export interface GcProgress {
  phase: 'mark' | 'sweep' | 'index' | 'done';
  /** Objects marked reachable so far. */
  marked: number;
  scanned: number;
  /** Unreachable chunks older than the grace period seen so far (deleted unless dry run). */
  garbage: number;
  deleted: number;
  bytesDeleted: number;
  /** Sweep position (hash order). */
  position?: Hash;
}

export interface GcResult {
  dryRun: boolean;
  /** True when this run continued an interrupted one (its mark set and cutoff). */
  resumed: boolean;
  runId: string;
  /** Chunks modified at or after this time (ms) were kept regardless. */
  cutoff: number;
  repos: number;
  /** Reachable objects (commits, trees, manifests, pages, data chunks, repo configs). */
  marked: number;
  /** Memory held by the mark set. */
  markSetBytes: number;
  scanned: ByteCount;
  live: ByteCount;
  /** Unreachable but inside the grace period. */
  young: ByteCount;
  /** Unreachable and older than grace: deleted, or what a real run would delete. */
  garbage: ByteCount;
  /** Deleted by this run and, when resumed, by the interrupted part. */
  deleted: ByteCount;
  /** Commit-index entries of commits that were deleted. */
  commitIndexRemoved: number;
  /**
   * Reflog entries older than each repo's window removed after its roots were read (RefStore.expireReflog
   * on `repos/<repo>/`): `entriesRemoved`, and `refsForgotten` (deleted refs with no history left).
   * Zero in a dry run and when resuming (marking, and so expiry, was done by the interrupted run).
   */
  reflog: ExpireReflogResult;
  ms: { mark: number; sweep: number; total: number };
}

/**
 * Mark and sweep over the whole chunk store (chunks are shared by every repo in it, so collection is
 * never per repo; retention is). Mark: for every repo, its config, the ancestry of its branch and
 * tag heads and of the reflog positions and commits inside its retention window, plus `roots`; then
 * (unless dry run) the repo's reflog entries older than the window are expired, keeping each ref's
 * position at the window's start, so reflogs stop growing and never name commits this run deletes.
 * Sweep: `chunks.list()` in hash order; a chunk neither marked nor younger than the grace cutoff is
 * deleted in batches. Then commit-index entries of deleted commits are removed.
 *
 * Safety: anything a writer will reference is marked, or is younger than the cutoff, as long as
 * transactions last less than `graceMs`. A reachable object that cannot be read stops the run
 * (CHUNK_NOT_FOUND or CORRUPT_METADATA naming it; run `verifyStore`): before anything is deleted when
 * found while marking, before the next batch when found by a re-mark during the sweep.
 */
export async function collectGarbage(catalog: Catalog, options: GcOptions = {}): Promise<GcResult> {
  const started = performance.now();
  const dryRun = options.dryRun ?? false;
  const graceMs = checkMs('graceMs', options.graceMs) ?? DEFAULT_GRACE_MS;
  const defaultRetain = checkMs('retainHistoryMs', options.retainHistoryMs) ?? DEFAULT_RETAIN_HISTORY_MS;
  for (const [repo, p] of Object.entries(options.repoRetention ?? {})) checkMs(`repoRetention.${repo}.retainHistoryMs`, p?.retainHistoryMs);
  // A dedup hit renews a chunk only when it is older than the writer's refreshAfterMs, so a grace period
  // shorter than that can sweep a chunk a writer has just deduplicated against and is about to commit.
  const refreshAfterMs = catalog.chunks instanceof ObjectChunkStore ? catalog.chunks.refreshAfterMs : DEFAULT_REFRESH_AFTER_MS;
  if (!dryRun && graceMs < refreshAfterMs) {
    process.emitWarning(`gc graceMs ${graceMs} is shorter than the chunk store's refreshAfterMs ${refreshAfterMs}: a chunk a concurrent writer deduplicated against may be deleted before its commit lands (run with no concurrent writers, or raise graceMs)`, { code: 'ARMILLARIA_GC_GRACE' });
  }
  const batchSize = options.deleteBatchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`deleteBatchSize must be a positive integer, got ${String(batchSize)}`);
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now)) throw new InvalidArgumentError('now must be a finite number of milliseconds');
  const stateStore = options.state === false ? undefined
    : options.state ?? (catalog.chunks instanceof ObjectChunkStore ? new ObjectStoreGcState(catalog.chunks.objects) : undefined);
  const progress = (p: GcProgress): void => options.onProgress?.(p);
  const retainFor = (repo: string): number => options.repoRetention?.[repo]?.retainHistoryMs ?? defaultRetain;

  // ---- mark (or take the mark set of an interrupted run)
  const loaded = !dryRun && stateStore && options.resume !== false ? await stateStore.load() : undefined;
  if (!dryRun && stateStore && options.resume === false) await stateStore.clear();
  const repos = await listRepoNames(catalog.refs);
  const resumed = loaded !== undefined;
  const marks = loaded?.marks ?? new HashSet(1 << 16);
  const state: GcState = loaded?.state
    ?? { v: 1, runId: randomUUID(), startedAt: now, cutoff: now - graceMs, sweptAfter: null, deleted: { chunks: 0, bytes: 0 } };
  const walker = new ReachabilityWalker({
    store: catalog.store,
    manifests: () => new ManifestReader(catalog.chunks),
    seen: marks,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    onProblem: (p) => {
      throw refusal(p);
    },
  });
  const reflog: ExpireReflogResult = { entriesRemoved: 0, refsForgotten: 0 };
  if (!loaded) {
    const known = stateStore ? await stateStore.knownRefs() : {};
    const names = await mark(catalog, walker, repos, retainFor, now, options, progress, known, reflog);
    if (!dryRun && stateStore) await stateStore.saveKnownRefs(names);
    if (!dryRun && stateStore) await stateStore.begin(state, marks);
  }
  const markMs = performance.now() - started;

  // ---- sweep
  const count = (): ByteCount => ({ chunks: 0, bytes: 0 });
  const scanned = count(), live = count(), young = count(), garbage = count();
  const deleted = { ...state.deleted };
  let batch: ChunkStat[] = [];
  const report = (phase: GcProgress['phase'], position?: Hash): void =>
    progress({ phase, marked: marks.size, scanned: scanned.chunks, garbage: garbage.chunks, deleted: deleted.chunks, bytesDeleted: deleted.bytes, ...(position ? { position } : {}) });
  const flush = async (position: Hash): Promise<void> => {
    options.signal?.throwIfAborted();
    if (batch.length > 0) {
      // Commits that became visible since marking (slow transactions, long sweeps) are marked now, and
      // whatever they reach is taken out of the batch: the window for losing data shrinks from the
      // whole run to one batch.
      await refreshMarks(catalog, walker, repos, options.roots ?? []);
      const rescued = batch.filter((c) => marks.has(c.hash));
      if (rescued.length > 0) {
        batch = batch.filter((c) => !marks.has(c.hash));
        for (const c of rescued) {
          sub(garbage, c);
          add(live, c);
        }
      }
      // A writer that deduplicated onto one of these since it was listed has renewed its modifiedAt
      // (ObjectChunkStore touches reused chunks) and will reference it: keep it.
      const fresh = await renewedChunks(catalog.chunks, batch, range, state.cutoff, options.concurrency ?? 16);
      if (fresh.size > 0) {
        const renewed = batch.filter((c) => fresh.has(c.hash));
        batch = batch.filter((c) => !fresh.has(c.hash));
        for (const c of renewed) {
          sub(garbage, c);
          add(young, c);
        }
      }
    }
    if (!dryRun && batch.length > 0) {
      await catalog.chunks.delete(batch.map((c) => c.hash));
      deleted.chunks += batch.length;
      deleted.bytes += batch.reduce((s, c) => s + c.size, 0);
    }
    batch = [];
    if (!dryRun && stateStore) await stateStore.progress({ ...state, sweptAfter: position, deleted: { ...deleted } });
    report('sweep', position);
  };
  let last: Hash | undefined;
  // The listing range the current batch came from (see renewedChunks).
  let range: SweptRange = { startAfter: undefined, listed: 0 };
  for await (const c of catalog.chunks.list(state.sweptAfter ? { startAfter: state.sweptAfter } : undefined)) {
    scanned.chunks++;
    scanned.bytes += c.size;
    const before = last ?? state.sweptAfter ?? undefined;
    last = c.hash;
    if (batch.length > 0) range.listed++;
    if (scanned.chunks % PROGRESS_EVERY === 0) report('sweep', c.hash);
    if (marks.has(c.hash)) add(live, c);
    else if (c.modifiedAt >= state.cutoff) add(young, c);
    else {
      add(garbage, c);
      if (batch.length === 0) range = { startAfter: before, listed: 1 };
      batch.push(c);
      if (batch.length >= batchSize) await flush(c.hash);
    }
  }
  if (last !== undefined) await flush(last);

  // ---- commit index: drop entries of commits that are gone, so prefix lookups never name them
  let commitIndexRemoved = 0;
  if (!dryRun) {
    report('index');
    for (const repo of repos) commitIndexRemoved += await pruneCommitIndex(catalog, repo, marks);
    if (stateStore) await stateStore.clear();
  }
  report('done');
  const total = performance.now() - started;
  return {
    dryRun, resumed, runId: state.runId, cutoff: state.cutoff, repos: repos.length, marked: marks.size, markSetBytes: marks.byteLength,
    scanned, live, young, garbage, deleted, commitIndexRemoved, reflog, ms: { mark: markMs, sweep: total - markMs, total },
  };
}

/** Sweep progress is reported every this many listed chunks, besides every delete batch. */
const PROGRESS_EVERY = 10_000;

function add(c: ByteCount, stat: ChunkStat): void {
  c.chunks++;
  c.bytes += stat.size;
}

function sub(c: ByteCount, stat: ChunkStat): void {
  c.chunks--;
  c.bytes -= stat.size;
}

/** Marks what the current branch and tag heads and live roots reach (cheap: marked history is skipped). */
async function refreshMarks(catalog: Catalog, walker: ReachabilityWalker, repos: readonly string[], sources: readonly GcRootSource[]): Promise<void> {
  for (const repo of repos) {
    const heads = [...(await catalog.refs.list(refNames.branchesPrefix(repo))), ...(await catalog.refs.list(refNames.tagsPrefix(repo)))];
    await walker.commits(repo, heads.map((e) => e.value));
  }
  await markLiveRoots(walker, sources);
}

async function markLiveRoots(walker: ReachabilityWalker, sources: readonly GcRootSource[]): Promise<void> {
  for (const source of sources) {
    for (const root of await source.roots()) {
      const repo = root.label ?? 'live root';
      if (root.kind === 'commit') await walker.commits(repo, [root.hash]);
      else if (walker.mark(root.hash)) await (root.kind === 'tree' ? walker.tree(root.hash, { repo }) : walker.manifest(root.hash, { repo }));
    }
  }
}

async function mark(
  catalog: Catalog, walker: ReachabilityWalker, repos: readonly string[], retainFor: (repo: string) => number, now: number,
  options: GcOptions, progress: (p: GcProgress) => void, known: Readonly<Record<string, readonly string[]>>, reflog: ExpireReflogResult,
): Promise<Record<string, string[]>> {
  const marks = walker.seen;
  const tick = (): void => progress({ phase: 'mark', marked: marks.size, scanned: 0, garbage: 0, deleted: 0, bytesDeleted: 0 });
  // Once a second while marking, besides after each repo: one repo's history can take long.
  const timer = setInterval(tick, 1000);
  try {
    return await markRepos(catalog, walker, repos, retainFor, now, options, known, tick, reflog);
  } finally {
    clearInterval(timer);
  }
}

async function markRepos(
  catalog: Catalog, walker: ReachabilityWalker, repos: readonly string[], retainFor: (repo: string) => number, now: number,
  options: GcOptions, known: Readonly<Record<string, readonly string[]>>, tick: () => void, reflog: ExpireReflogResult,
): Promise<Record<string, string[]>> {
  const marks = walker.seen;
  const names: Record<string, string[]> = {};
  for (const repo of repos) {
    const windowStart = now - retainFor(repo);
    const roots = await repoRoots(catalog.refs, repo, windowStart, known[repo] ?? []);
    names[repo] = roots.names;
    if (roots.config !== undefined) walker.mark(roots.config);
    await walker.commits(repo, roots.commits);
    if (!options.dryRun) {
      // What repoRoots did not take as roots (entries before the window, except each ref's position at
      // its start, which `ref@{windowStart}` reads) is history this run may delete the commits of.
      const expired = await catalog.refs.expireReflog(windowStart, { prefix: refNames.repoPrefix(repo) });
      reflog.entriesRemoved += expired.entriesRemoved;
      reflog.refsForgotten += expired.refsForgotten;
    }
    tick();
    options.signal?.throwIfAborted();
  }
  // Read after the refs: a transaction record that moved a ref while refs were read is still listed here.
  await markLiveRoots(walker, options.roots ?? []);
  // Commits made inside the window that no ref or reflog names (e.g. on a branch deleted since).
  for (const repo of repos) {
    await walker.commits(repo, await recentUnnamedCommits(catalog, repo, now - retainFor(repo), (h) => marks.has(h)));
    tick();
  }
  return names;
}

function refusal(p: WalkProblem): ArmillariaError {
  const where = `repo ${p.at.repo}${p.at.commit ? `, commit ${p.at.commit}` : ''}${p.at.table ? `, table ${p.at.table}` : ''}`;
  const code = p.kind === 'missing' ? ErrorCode.ChunkNotFound : ErrorCode.CorruptMetadata;
  return new ArmillariaError(code, `gc stopped before sweeping: reachable ${p.object} ${p.hash} (${where}) is ${p.kind}: ${p.message}; run verify`, {
    details: { hash: p.hash, object: p.object, problem: p.kind, ...p.at },
  });
}

async function pruneCommitIndex(catalog: Catalog, repo: string, marks: HashSet): Promise<number> {
  let removed = 0;
  await forEachIndexedCommit(catalog, repo, async (hash, ref) => {
    if (marks.has(hash) || (await catalog.chunks.has(hash))) return;
    try {
      await catalog.refs.compareAndSwap(ref, hash, null, { message: 'gc: commit deleted' });
      removed++;
    } catch (err) {
      if (!isArmillariaError(err, ErrorCode.RefConflict)) throw err;
    }
  });
  return removed;
}
