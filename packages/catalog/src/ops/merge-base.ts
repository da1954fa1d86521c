import type { Hash } from '@armillaria/core';
import type { CommitStore } from '../model/commit-store.js';
import type { Commit } from '../catalog-api.js';

/**
 * The newest common ancestor of two commits. Both sides are expanded newest-generation first, so the
 * walk covers only the commits since they diverged, not the shared history below the base.
 */
export async function mergeBase(store: CommitStore, a: Commit, b: Commit): Promise<Hash | null> {
  if (a.hash === b.hash) return a.hash;
  const flags = new Map<Hash, number>([[a.hash, 1]]);
  flags.set(b.hash, (flags.get(b.hash) ?? 0) | 2);
  const queue: Commit[] = [a, b];
  while (queue.length > 0) {
    let best = 0;
    for (let i = 1; i < queue.length; i++) if ((queue[i] as Commit).generation > (queue[best] as Commit).generation) best = i;
    const c = queue.splice(best, 1)[0] as Commit;
    const f = flags.get(c.hash) ?? 0;
    if (f === 3) return c.hash;
    for (const p of c.parents) {
      const before = flags.get(p) ?? 0;
      const after = before | f;
      if (after === before) continue;
      flags.set(p, after);
      // Re-queue a commit whose colour grew, even if it was expanded already.
      const queued = queue.find((q) => q.hash === p);
      if (!queued) queue.push(await store.readCommit(p));
    }
  }
  return null;
}
