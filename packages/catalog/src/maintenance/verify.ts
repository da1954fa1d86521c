import { InvalidArgumentError, Semaphore, type Hash } from '@armillaria/core';
import type { Catalog } from '../catalog.js';
import { ManifestReader } from '../table-format/manifest-io.js';
import { CommitStore } from '../model/commit-store.js';
import { HashSet } from './hash-set.js';
import { ReachabilityWalker, classify, type ObjectKind, type Reach, type WalkProblem } from './reachability.js';
import { DEFAULT_RETAIN_HISTORY_MS, checkMs, listRepoNames, recentUnnamedCommits, repoRoots } from './retention.js';

export interface VerifyOptions {
  /** Only this repo (default: every repo). */
  repo?: string;
  /** History that counts as reachable besides branch and tag heads: reflog positions this recent (default 7 days, as GC). */
  retainHistoryMs?: number;
  /** Chunks per verified batch read (default 256). */
  batchSize?: number;
  /** Bytes per batch read, as the manifests record them (default 64 MiB; a larger chunk goes alone). */
  batchBytes?: number;
  /** Batches in flight (default 4); each batch is re-hashed by one native call. */
  concurrency?: number;
  /** Most commits listed per problem (default 100). */
  maxNeedsPerProblem?: number;
  onProgress?: (progress: VerifyProgress) => void;
  signal?: AbortSignal;
  now?: number;
}

export interface VerifyProgress {
  /** Reachable objects found so far. */
  objects: number;
  chunksVerified: number;
  bytesVerified: number;
  problems: number;
}

/** Who needs a broken object: a commit of a repo and, below a tree, the table. */
export interface VerifyNeed {
  repo: string;
  commit?: Hash;
  table?: string;
}

export interface VerifyProblem {
  kind: 'missing' | 'corrupt';
  object: ObjectKind;
  hash: Hash;
  message: string;
  /** Every reachable commit (up to `maxNeedsPerProblem`) whose tables or history need the object. */
  needs: VerifyNeed[];
  needsTruncated?: boolean;
}

export interface VerifyResult {
  /** False when any reachable object is missing or corrupt (the CLI exits non-zero). */
  ok: boolean;
  repos: string[];
  /** Reachable objects checked: commits, trees, manifests, pages, data chunks, repo configs. */
  objects: number;
  /** Data chunks re-hashed, and their bytes. */
  chunks: number;
  bytes: number;
  problems: VerifyProblem[];
  ms: number;
}

/**
 * Proves the reachable part of the store intact: every commit, tree, manifest and manifest page is
 * read through its hash check and parsed (validated), and every data chunk is re-hashed (batched reads,
 * hashed in parallel in the native addon). Problems are reported per object with the commits and
 * tables that need it; the run never stops at the first one.
 */
export async function verifyStore(catalog: Catalog, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const retain = checkMs('retainHistoryMs', options.retainHistoryMs) ?? DEFAULT_RETAIN_HISTORY_MS;
  const batchSize = positiveInt('batchSize', options.batchSize, 256);
  const batchBytes = positiveInt('batchBytes', options.batchBytes, 64 << 20);
  const concurrency = positiveInt('concurrency', options.concurrency, 4);
  const maxNeeds = positiveInt('maxNeedsPerProblem', options.maxNeedsPerProblem, 100);
  const now = options.now ?? Date.now();
  let repos: string[];
  if (options.repo !== undefined) {
    await catalog.repoInfo(options.repo); // REPO_NOT_FOUND, INVALID_NAME
    repos = [options.repo];
  } else {
    repos = await listRepoNames(catalog.refs);
  }

  const problems = new Map<Hash, VerifyProblem>();
  const record = (p: WalkProblem): void => {
    const known = problems.get(p.hash);
    if (known) return addNeed(known, p.at, maxNeeds);
    const problem: VerifyProblem = { kind: p.kind, object: p.object, hash: p.hash, message: p.message, needs: [] };
    addNeed(problem, p.at, maxNeeds);
    problems.set(p.hash, problem);
  };
  let chunks = 0;
  let bytes = 0;
  const seen = new HashSet(1 << 16);
  const tick = (): void => options.onProgress?.({ objects: seen.size, chunksVerified: chunks, bytesVerified: bytes, problems: problems.size });

  const sem = new Semaphore(concurrency);
  const inflight = new Set<Promise<void>>();
  const check = async (hashes: Hash[], at: Reach): Promise<void> => {
    options.signal?.throwIfAborted();
    try {
      // From storage: a chunk store's in-memory copies would hide what became of the stored bytes.
      const got = await catalog.chunks.getBatch(hashes, { skipCache: true });
      chunks += got.length;
      bytes += got.reduce((s, b) => s + b.byteLength, 0);
    } catch (err) {
      if (classify(err) === undefined) throw err;
      for (const hash of hashes) {
        try {
          bytes += (await catalog.chunks.get(hash, { skipCache: true })).byteLength;
          chunks++;
        } catch (e) {
          const kind = classify(e);
          if (kind === undefined) throw e;
          record({ kind, object: 'chunk', hash, message: (e as Error).message, at });
        }
      }
    }
    tick();
  };
  let failure: unknown;
  const walker = new ReachabilityWalker({
    // A fresh store, not the catalog's: its cache would answer for commits and trees whose chunks are gone.
    store: new CommitStore(catalog.chunks),
    manifests: () => new ManifestReader(catalog.chunks),
    seen,
    onProblem: record,
    onData: async (data, at) => {
      // Batches bounded by count and by bytes, at most `concurrency` reading at once (and as many
      // waiting, as hashes only), so memory stays about concurrency x batchBytes whatever the store size.
      for (let i = 0; i < data.length;) {
        const batch: Hash[] = [];
        let size = 0;
        for (; i < data.length && batch.length < batchSize && (batch.length === 0 || size + data[i]!.bytes <= batchBytes); i++) {
          batch.push(data[i]!.hash);
          size += data[i]!.bytes;
        }
        while (inflight.size >= concurrency * 2) await Promise.race(inflight);
        const p: Promise<void> = sem.run(() => check(batch, at))
          .catch((err: unknown) => { failure ??= err; })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    },
  });

  const rootsByRepo = new Map<string, Hash[]>();
  for (const repo of repos) {
    const roots = await repoRoots(catalog.refs, repo, now - retain);
    rootsByRepo.set(repo, roots.commits);
    if (roots.config !== undefined && walker.mark(roots.config)) {
      try {
        await new CommitStore(catalog.chunks, 1).readJson(roots.config, 'repo config');
      } catch (err) {
        const kind = classify(err);
        if (kind === undefined) throw err;
        record({ kind, object: 'repo-config', hash: roots.config, message: (err as Error).message, at: { repo } });
      }
    }
    await walker.commits(repo, roots.commits);
    options.signal?.throwIfAborted();
  }
  // What GC keeps besides: commits of the window no ref or reflog names (on a branch deleted since).
  for (const repo of repos) {
    const recent = await recentUnnamedCommits(catalog, repo, now - retain, (h) => seen.has(h));
    rootsByRepo.get(repo)!.push(...recent);
    await walker.commits(repo, recent);
    options.signal?.throwIfAborted();
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure;
  if (problems.size > 0) await attribute(catalog, rootsByRepo, problems, maxNeeds);
  tick();
  return {
    ok: problems.size === 0, repos, objects: seen.size, chunks, bytes,
    problems: [...problems.values()], ms: performance.now() - started,
  };
}

/**
 * Second pass, only when something is broken: every reachable commit whose history or tables need a
 * broken object is added to that object's `needs` (a shared chunk is reported for each table and
 * commit holding it, not only where the first pass met it).
 */
async function attribute(catalog: Catalog, rootsByRepo: Map<string, Hash[]>, problems: Map<Hash, VerifyProblem>, maxNeeds: number): Promise<void> {
  const reader = new ManifestReader(catalog.chunks);
  const badIn = new Map<Hash, Hash[]>();
  const badHashesOf = async (manifest: Hash): Promise<Hash[]> => {
    const memo = badIn.get(manifest);
    if (memo) return memo;
    const out: Hash[] = [];
    if (problems.has(manifest)) out.push(manifest);
    else {
      try {
        const m = await reader.manifest(manifest);
        for (const list of [m, ...(m.delta ? (m.delta.runs ?? [m.delta]) : [])]) {
          for (const c of list.chunks ?? []) if (problems.has(c.hash)) out.push(c.hash);
          for (const page of list.pages ?? []) {
            if (problems.has(page.hash)) {
              out.push(page.hash);
              continue;
            }
            for (const c of await reader.page(page)) if (problems.has(c.hash)) out.push(c.hash);
          }
        }
      } catch {
        // unreadable here means already reported by the first pass
      }
    }
    badIn.set(manifest, out);
    return out;
  };
  for (const [repo, roots] of rootsByRepo) {
    const seen = new HashSet();
    let frontier = roots.filter((h) => seen.add(h));
    while (frontier.length > 0) {
      const next: Hash[] = [];
      for (const hash of frontier) {
        let commit;
        try {
          commit = await catalog.store.readCommit(hash);
        } catch {
          continue;
        }
        const need = { repo, commit: hash };
        for (const p of commit.parents) {
          const broken = problems.get(p);
          if (broken) addNeed(broken, need, maxNeeds);
          if (seen.add(p)) next.push(p);
        }
        const brokenTree = problems.get(commit.tree);
        if (brokenTree) {
          addNeed(brokenTree, need, maxNeeds);
          continue;
        }
        let tree;
        try {
          tree = await catalog.store.readTree(commit.tree);
        } catch {
          continue;
        }
        for (const [table, e] of Object.entries(tree.tables)) {
          for (const bad of await badHashesOf(e.manifest)) addNeed(problems.get(bad)!, { ...need, table }, maxNeeds);
        }
      }
      frontier = next;
    }
  }
}

function addNeed(problem: VerifyProblem, at: VerifyNeed, max: number): void {
  const same = (n: VerifyNeed): boolean => n.repo === at.repo && n.commit === at.commit && n.table === at.table;
  if (problem.needs.some(same)) return;
  // A need without a commit (a broken branch head) is kept even when one with a commit exists.
  if (problem.needs.length >= max) {
    problem.needsTruncated = true;
    return;
  }
  const need: VerifyNeed = { repo: at.repo };
  if (at.commit !== undefined) need.commit = at.commit;
  if (at.table !== undefined) need.table = at.table;
  problem.needs.push(need);
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${JSON.stringify(value)}`, { details: { option: name } });
  return value as number;
}
