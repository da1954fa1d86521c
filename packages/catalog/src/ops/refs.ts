import { ErrorCode, InvalidArgumentError, isArmillariaError } from '@armillaria/core';
import { CatalogNotFoundError, RefExistsError } from '../errors.js';
import { assertBranchName, assertTagName, refNames } from '../names.js';
import { parseAsOf } from '../ref-resolver.js';
import type { CatalogContext } from '../context.js';
import type { AsOf, BranchReflogEntry, RefInfo, RepoInfo } from '../catalog-api.js';

/** Branches and tags: each create, move or delete is one RefStore compare-and-swap and no chunk. */

export async function createBranch(ctx: CatalogContext, repo: RepoInfo, name: string, opts: { from?: string; asOf?: AsOf }): Promise<RefInfo> {
  assertBranchName(name);
  const at = await ctx.resolver.resolve(repo, opts.from, opts.asOf);
  try {
    await ctx.refs.compareAndSwap(refNames.branch(repo.name, name), null, at.hash, { message: `branch from ${opts.from ?? repo.defaultBranch}` });
  } catch (err) {
    if (isArmillariaError(err, ErrorCode.RefConflict)) throw new RefExistsError('branch', repo.name, name);
    throw err;
  }
  return { name, commit: at.hash };
}

export async function deleteBranch(ctx: CatalogContext, repo: RepoInfo, name: string): Promise<void> {
  if (name === repo.defaultBranch) throw new InvalidArgumentError(`the default branch ${name} cannot be deleted`, { details: { repo: repo.name, branch: name } });
  const head = await ctx.branchHead(repo, name);
  await ctx.refs.compareAndSwap(refNames.branch(repo.name, name), head.hash, null, { message: 'delete branch' });
}

export async function branchReflog(ctx: CatalogContext, repo: RepoInfo, name: string, opts: { limit?: number; before?: AsOf }): Promise<BranchReflogEntry[]> {
  assertBranchName(name);
  const limit = opts.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`limit must be a positive integer, got ${String(limit)}`);
  const q: { limit: number; before?: number } = { limit };
  if (opts.before !== undefined) q.before = parseAsOf(opts.before);
  const entries = await ctx.refs.reflog(refNames.branch(repo.name, name), q);
  return entries.map((e) => {
    const out: BranchReflogEntry = { old: e.old, new: e.new, time: e.time };
    if (e.message !== undefined) out.message = e.message;
    if (e.author !== undefined) out.author = e.author;
    return out;
  });
}

export async function createTag(ctx: CatalogContext, repo: RepoInfo, name: string, opts: { ref?: string; asOf?: AsOf }): Promise<RefInfo> {
  assertTagName(name);
  const at = await ctx.resolver.resolve(repo, opts.ref, opts.asOf);
  try {
    await ctx.refs.compareAndSwap(refNames.tag(repo.name, name), null, at.hash, { message: `tag ${opts.ref ?? repo.defaultBranch}` });
  } catch (err) {
    if (isArmillariaError(err, ErrorCode.RefConflict)) throw new RefExistsError('tag', repo.name, name);
    throw err;
  }
  return { name, commit: at.hash };
}

export async function deleteTag(ctx: CatalogContext, repo: RepoInfo, name: string): Promise<void> {
  assertTagName(name);
  const value = await ctx.refs.get(refNames.tag(repo.name, name));
  if (value === undefined) throw new CatalogNotFoundError(ErrorCode.TagNotFound, `tag ${name} not found in repo ${repo.name}`, { repo: repo.name, tag: name });
  await ctx.refs.compareAndSwap(refNames.tag(repo.name, name), value, null, { message: 'delete tag' });
}

export async function listRefs(ctx: CatalogContext, repo: string, kind: 'branch' | 'tag'): Promise<RefInfo[]> {
  const prefix = kind === 'branch' ? refNames.branchesPrefix(repo) : refNames.tagsPrefix(repo);
  return (await ctx.refs.list(prefix)).map((e) => ({ name: e.name.slice(prefix.length), commit: e.value }));
}
