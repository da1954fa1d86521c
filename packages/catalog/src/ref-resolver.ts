import { ErrorCode, InvalidArgumentError, type Hash } from '@armillaria/core';
import { AmbiguousRefError, CatalogNotFoundError, InvalidNameError } from './errors.js';
import type { RefStore } from './refs/ref-store.js';
import type { CommitStore } from './model/commit-store.js';
import { refNames } from './names.js';
import type { AsOf, Commit, RepoInfo } from './catalog-api.js';

const HEX_PREFIX = /^[0-9a-f]{6,64}$/;
const BRANCH_SYNTAX = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** `3 days ago`, `90 min ago`, `1.week.ago` (git's form), `yesterday` (24 h ago), `now`. */
const RELATIVE_TIME = /^(?:(\d+(?:\.\d+)?)[\s.]*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)[\s.]+ago|yesterday|now)$/i;

/** True for the relative times `parseAsOf` takes (so a caller can tell them from ref names). */
export function isRelativeTime(value: string): boolean {
  return RELATIVE_TIME.test(value.trim());
}

/**
 * `ms`, from a Date, ms number, ISO / digits string, or a relative time (`3 days ago`, `2.hours.ago`,
 * `yesterday`, `now`) counted back from this process's clock (the server's, for remote callers);
 * INVALID_ARGUMENT otherwise.
 */
export function parseAsOf(value: AsOf, now = Date.now()): number {
  if (value instanceof Date) {
    if (!Number.isNaN(value.getTime())) return value.getTime();
  } else if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
  } else if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return Number(value);
    const text = value.trim().toLowerCase();
    const rel = RELATIVE_TIME.exec(text);
    if (rel) {
      if (text === 'now') return now;
      if (text === 'yesterday') return now - UNIT_MS.d!;
      // Every unit's first letter names it (`m` is minutes: months are not offered, their length varies).
      return Math.round(now - Number(rel[1]) * (UNIT_MS[(rel[2] as string)[0]!] as number));
    }
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  throw new InvalidArgumentError(`not a time: ${JSON.stringify(String(value))} (expected an ISO-8601 time, ms since epoch, or a relative time such as "3 days ago")`, {
    details: { asOf: String(value) },
  });
}

/** Git's ancestry suffixes: `^` one first-parent step, `~N` N of them (`~` alone: one), in any sequence. */
const ANCESTRY = /(?:\^|~\d*)+$/;

/**
 * Splits `name@{time}~N` into its parts: the name, the time (optional) and the first-parent steps back
 * (`main~2`, `v1.0^`, `main@{yesterday}~1`, `3f2a9c1e^^`).
 */
export function parseRefSpec(ref: string): { name: string; at?: number; back?: number } {
  const a = ANCESTRY.exec(ref);
  const back = a ? stepsBack(a[0]) : 0;
  const base = a ? ref.slice(0, a.index) : ref;
  const m = /^(.*)@\{([^}]*)\}$/.exec(base);
  const spec: { name: string; at?: number; back?: number } = m ? { name: m[1] ?? '', at: parseAsOf(m[2] ?? '') } : { name: base };
  if (back > 0) spec.back = back;
  return spec;
}

function stepsBack(suffix: string): number {
  let n = 0;
  for (const step of suffix.match(/\^|~\d*/g) ?? []) n += step === '^' || step === '~' ? 1 : Number(step.slice(1));
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`too many steps back in ${JSON.stringify(suffix)}`, { details: { suffix } });
  return n;
}

/**
 * Turns ref syntax into a commit. Branch, tag and full hash are single RefStore reads; a hash prefix
 * lists one shard of the commit index; a time goes through the branch's reflog (RefStore.reflogValue) or,
 * for tags and commits, a skip-pointer search over first-parent commit times (O(log n) commit reads);
 * `~N` / `^` steps back along first parents through the same skip pointers.
 */
export class RefResolver {
  constructor(private readonly refs: RefStore, private readonly store: CommitStore) {}

  async resolve(repo: RepoInfo, ref: string | undefined, asOf?: AsOf): Promise<Commit> {
    const spec: ReturnType<typeof parseRefSpec> = ref === undefined ? { name: '' } : parseRefSpec(ref);
    const commit = await this.resolveSpec(repo, spec, asOf, ref);
    return spec.back === undefined ? commit : this.ancestor(repo, commit, spec.back, ref as string);
  }

  /**
   * The first-parent ancestor `steps` back from `from` (`main~3`): the one at generation
   * `from.generation - steps`, found through skip pointers (O(log n) commit reads), not a walk.
   */
  private async ancestor(repo: RepoInfo, from: Commit, steps: number, ref: string): Promise<Commit> {
    if (steps > from.generation) {
      throw new CatalogNotFoundError(ErrorCode.RefNotFound, `${ref}: commit ${from.hash.slice(0, 12)} has only ${from.generation} first-parent ancestors`, {
        repo: repo.name, ref, available: from.generation,
      });
    }
    const target = from.generation - steps;
    return this.store.oldestWhere(from, (c) => c.generation >= target);
  }

  private async resolveSpec(repo: RepoInfo, spec: ReturnType<typeof parseRefSpec>, asOf: AsOf | undefined, ref: string | undefined): Promise<Commit> {
    if (spec.at !== undefined && asOf !== undefined) {
      throw new InvalidArgumentError('give a time either as ref@{time} or as asOf, not both', { details: { ref } });
    }
    const at = spec.at ?? (asOf === undefined ? undefined : parseAsOf(asOf));
    const name = spec.name === '' ? repo.defaultBranch : spec.name;
    if (!BRANCH_SYNTAX.test(name) || name.includes('..')) {
      throw new InvalidNameError('ref', name, 'not a branch, tag or commit hash (a time is ISO-8601, e.g. 2026-12-01T10:00Z, or relative, e.g. "3 days ago")');
    }

    const branchHead = await this.refs.get(refNames.branch(repo.name, name));
    if (branchHead !== undefined) {
      if (at === undefined) return this.store.readCommit(branchHead);
      return this.branchAt(repo, name, at);
    }
    let commit: Commit | undefined;
    if (!name.includes('/')) {
      const tagged = await this.refs.get(refNames.tag(repo.name, name));
      if (tagged !== undefined) commit = await this.store.readCommit(tagged);
    }
    if (!commit && HEX_PREFIX.test(name)) commit = await this.byHashPrefix(repo, name);
    if (!commit) {
      throw new CatalogNotFoundError(ErrorCode.RefNotFound, `ref ${JSON.stringify(name)} is not a branch, tag or commit of repo ${repo.name}`, {
        repo: repo.name, ref: name,
      });
    }
    return at === undefined ? commit : this.commitAt(repo, commit, at, name);
  }

  /** The commit a branch pointed to at `at`: the newest reflog entry not after it. */
  private async branchAt(repo: RepoInfo, branch: string, at: number): Promise<Commit> {
    const entry = await this.refs.reflogValue(refNames.branch(repo.name, branch), at + 1);
    if (!entry || entry.value === null) {
      throw new CatalogNotFoundError(ErrorCode.RefNotFound, `branch ${branch} did not exist at ${new Date(at).toISOString()}`, {
        repo: repo.name, ref: branch, asOf: at,
      });
    }
    return this.store.readCommit(entry.value);
  }

  /** The newest first-parent ancestor of `from` made at or before `at`. */
  async commitAt(repo: RepoInfo, from: Commit, at: number, refName: string): Promise<Commit> {
    const found = await this.store.newestAtOrBefore(from, at);
    if (found === undefined) {
      throw new CatalogNotFoundError(ErrorCode.RefNotFound, `${refName} has no commit at or before ${new Date(at).toISOString()}`, {
        repo: repo.name, ref: refName, asOf: at,
      });
    }
    return found;
  }

  /** Full hashes are checked against the commit index; prefixes list one index shard. */
  async byHashPrefix(repo: RepoInfo, prefix: string): Promise<Commit | undefined> {
    if (prefix.length === 64) {
      const known = await this.refs.get(refNames.commit(repo.name, prefix));
      return known === undefined ? undefined : this.store.readCommit(known);
    }
    const matches = await this.refs.list(refNames.commitPrefix(repo.name, prefix));
    if (matches.length === 0) return undefined;
    if (matches.length > 1) throw new AmbiguousRefError(repo.name, prefix, matches.slice(0, 10).map((m) => m.value));
    return this.store.readCommit((matches[0] as { value: Hash }).value);
  }

  /** COMMIT_NOT_FOUND unless `hash` is a commit of this repo. */
  async commitOf(repo: RepoInfo, hash: string): Promise<Commit> {
    const commit = /^[0-9a-f]{64}$/.test(hash) ? await this.byHashPrefix(repo, hash) : undefined;
    if (!commit) throw new CatalogNotFoundError(ErrorCode.CommitNotFound, `commit ${hash} not found in repo ${repo.name}`, { repo: repo.name, hash });
    return commit;
  }
}
