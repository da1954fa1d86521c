import { ErrorCode, InvalidArgumentError, isArmillariaError, isHash, type Hash } from '@armillaria/core';
import type { Catalog } from '../catalog.js';
import { refNames } from '../names.js';
import type { RefStore } from '../refs/ref-store.js';

export const DEFAULT_RETAIN_HISTORY_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/** How much unreachable history a repo keeps for time travel and branch recovery. */
export interface RetentionPolicy {
  /** Commits that were a branch or tag position (reflog) or were made within this age stay, with their ancestry. Default 7 days. */
  retainHistoryMs?: number;
}

/** A repo's roots: its config chunk and the commits whose ancestry is kept. */
export interface RepoRoots {
  repo: string;
  config: Hash | undefined;
  /** Branch and tag heads, then reflog positions within the window (deduplicated, in that order). */
  commits: Hash[];
  refs: number;
  reflogEntries: number;
  /** Ref names worth remembering for the next run: existing ones and deleted ones with positions in the window. */
  names: string[];
}

const REFLOG_PAGE = 1000;
const REFLOG_PAGE_LIMIT = 10_000;

export function checkMs(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative number of milliseconds, got ${JSON.stringify(value)}`, { details: { option: name } });
  }
  return value;
}

export async function listRepoNames(refs: RefStore): Promise<string[]> {
  return (await refs.list(refNames.reposPrefix)).map((e) => e.name.slice(refNames.reposPrefix.length));
}

/**
 * Everything a repo keeps regardless of age: every branch and tag head; plus, for history, every
 * commit a branch or tag pointed to at some moment since `windowStart` according to its reflog (both
 * sides of each entry in the window, and the position the ref already had when the window opened, so
 * `ref@{windowStart}` still resolves).
 */
export async function repoRoots(refs: RefStore, repo: string, windowStart: number, knownNames: readonly string[] = []): Promise<RepoRoots> {
  const config = await refs.get(refNames.repo(repo));
  const listed = [...(await refs.list(refNames.branchesPrefix(repo))), ...(await refs.list(refNames.tagsPrefix(repo)))];
  const commits = new Set<Hash>(listed.map((e) => e.value));
  const existing = new Set(listed.map((e) => e.name));
  // Names from earlier runs that no longer exist: deleted refs, recoverable from their reflog for the window.
  const deleted = knownNames.filter((n) => !existing.has(n) && (n.startsWith(refNames.branchesPrefix(repo)) || n.startsWith(refNames.tagsPrefix(repo))));
  const names = [...existing];
  let reflogEntries = 0;
  for (const name of [...existing, ...deleted]) {
    const positions = await reflogPositions(refs, name, windowStart);
    for (const hash of positions) {
      commits.add(hash);
      reflogEntries++;
    }
    if (!existing.has(name) && positions.length > 0) names.push(name);
  }
  return { repo, config, commits: [...commits], refs: listed.length, reflogEntries, names };
}

/** Positions of one ref since `windowStart` (newest first), paging back through its reflog. */
async function reflogPositions(refs: RefStore, name: string, windowStart: number): Promise<Hash[]> {
  const out: Hash[] = [];
  let before: number | undefined;
  for (let page = 0; page < REFLOG_PAGE_LIMIT; page++) {
    const entries = await refs.reflog(name, before === undefined ? { limit: REFLOG_PAGE } : { limit: REFLOG_PAGE, before });
    for (const e of entries) {
      // The position held when the window opened is kept, older ones not (a ref deleted before the
      // window opened held none: its last entry's `new` is null).
      if (e.time < windowStart) {
        if (e.new !== null && isHash(e.new)) out.push(e.new);
        return out;
      }
      if (e.new !== null && isHash(e.new)) out.push(e.new);
      if (e.old !== null && isHash(e.old)) out.push(e.old);
    }
    if (entries.length < REFLOG_PAGE) return out;
    const oldest = entries[entries.length - 1]!.time;
    // Entries sharing the oldest time may straddle the page: re-read from that time (duplicates are
    // harmless) unless the whole page had that time, where only a strict bound makes progress.
    before = entries[0]!.time === oldest ? oldest : oldest + 1;
  }
  return out;
}

const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Each commit-index entry of a repo, one shard at a time (bounded memory). */
export async function forEachIndexedCommit(catalog: Catalog, repo: string, fn: (hash: Hash, ref: string) => Promise<void>): Promise<void> {
  for (const shard of SHARDS) {
    for (const e of await catalog.refs.list(refNames.commitPrefix(repo, shard))) await fn(e.value, e.name);
  }
}

/**
 * Commits of the repo's commit index made since `windowStart` that `named` does not know (no ref or
 * reflog entry reached them: e.g. on a branch deleted since, whose name no run recorded). GC keeps them
 * for the window, so verify reads them too. An index entry whose commit is gone is skipped (GC prunes it).
 */
export async function recentUnnamedCommits(catalog: Catalog, repo: string, windowStart: number, named: (hash: Hash) => boolean): Promise<Hash[]> {
  const recent: Hash[] = [];
  await forEachIndexedCommit(catalog, repo, async (hash) => {
    if (named(hash)) return;
    try {
      const commit = await catalog.store.readCommit(hash);
      if (commit.time >= windowStart) recent.push(hash);
    } catch (err) {
      if (!isArmillariaError(err, ErrorCode.CommitNotFound)) throw err;
    }
  });
  return recent;
}
