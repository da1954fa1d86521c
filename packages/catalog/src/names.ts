import { InvalidNameError } from './errors.js';

/** Repo, table and tag names: one path-safe segment. `@`, `/`, `{`, `~`, `:` are never allowed, so ref syntax stays unambiguous. */
const SIMPLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Branch names may have `/` segments (`experiment/x`), each a simple name. */
const MAX_BRANCH_LENGTH = 255;

function checkSimple(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SIMPLE_NAME.test(name)) {
    throw new InvalidNameError(kind, name, 'expected 1-128 characters from [A-Za-z0-9_.-], not starting with . or -');
  }
  // `..` would let a name climb out of its directory in the fs ref store.
  if (name.includes('..')) throw new InvalidNameError(kind, name, 'must not contain ".."');
}

export function assertRepoName(name: unknown): asserts name is string {
  checkSimple('repo', name);
}

export function assertTableName(name: unknown): asserts name is string {
  checkSimple('table', name);
}

export function assertTagName(name: unknown): asserts name is string {
  checkSimple('tag', name);
}

export function assertBranchName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_BRANCH_LENGTH) {
    throw new InvalidNameError('branch', name, `expected 1-${MAX_BRANCH_LENGTH} characters`);
  }
  for (const segment of name.split('/')) {
    if (!SIMPLE_NAME.test(segment) || segment.includes('..')) {
      throw new InvalidNameError('branch', name, 'expected "/"-separated segments of [A-Za-z0-9_.-], each not starting with . or -');
    }
  }
}

/** Where each kind of ref lives in the RefStore. One place, so every backend sees the same layout. */
export const refNames = {
  /** Points at the repo's config chunk; its existence is the repo's existence. */
  repo: (repo: string) => `catalog/repos/${repo}`,
  reposPrefix: 'catalog/repos/',
  /** Every ref of one repo's data (branches, tags, commit index); the repo's config ref is outside it. */
  repoPrefix: (repo: string) => `repos/${repo}/`,
  branch: (repo: string, branch: string) => `repos/${repo}/branches/${branch}`,
  branchesPrefix: (repo: string) => `repos/${repo}/branches/`,
  tag: (repo: string, tag: string) => `repos/${repo}/tags/${tag}`,
  tagsPrefix: (repo: string) => `repos/${repo}/tags/`,
  /**
   * The commit index: one ref per commit, sharded by the first two hex digits, so resolving a hash
   * prefix lists one small shard instead of walking history.
   */
  commit: (repo: string, hash: string) => `repos/${repo}/commits/${hash.slice(0, 2)}/${hash}`,
  // Shards are the first two hex chars: a shorter prefix lists every shard it could start.
  commitPrefix: (repo: string, prefix: string) =>
    prefix.length < 2 ? `repos/${repo}/commits/${prefix}` : `repos/${repo}/commits/${prefix.slice(0, 2)}/${prefix}`,
} as const;
