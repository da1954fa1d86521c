import { InvalidArgumentError } from '@armillaria/core';
import type { CatalogContext } from '../context.js';
import type { Commit, LogEntry, LogOptions } from '../catalog-api.js';
import { introducing } from './time-travel.js';

const DEFAULT_LIMIT = 1000;

/** History newest first: every ancestor (by time), or with `table` the commits that made each of its versions. */
export async function logOf(ctx: CatalogContext, from: Commit, opts: LogOptions): Promise<LogEntry[]> {
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError(`limit must be a positive integer, got ${String(limit)}`);
  return opts.table === undefined ? allAncestors(ctx, from, limit) : tableHistory(ctx, from, opts.table, limit);
}

async function allAncestors(ctx: CatalogContext, from: Commit, limit: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const seen = new Set([from.hash]);
  const frontier: Commit[] = [from];
  while (frontier.length > 0 && out.length < limit) {
    frontier.sort((a, b) => b.time - a.time || b.generation - a.generation);
    const c = frontier.shift() as Commit;
    out.push({ ...c });
    for (const p of c.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      frontier.push(await ctx.store.readCommit(p));
    }
  }
  return out;
}

/**
 * Each version of the table's current incarnation, newest first; each step is a skip-pointer search
 * (O(log n) reads) for the commit that introduced the version, not a walk over unrelated commits.
 */
async function tableHistory(ctx: CatalogContext, from: Commit, table: string, limit: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  let x = from;
  let entry = (await ctx.store.readTree(x.tree)).tables[table];
  while (entry && out.length < limit) {
    const intro = await introducing(ctx, x, table, entry, entry.version);
    out.push({ ...intro, tableVersion: entry.version });
    const parent = intro.parents[0];
    if (parent === undefined) break;
    x = await ctx.store.readCommit(parent);
    const prev = (await ctx.store.readTree(x.tree)).tables[table];
    if (!prev || prev.origin !== entry.origin) break;
    entry = prev;
  }
  return out;
}
