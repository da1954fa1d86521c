import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { tempDir } from '@armillaria/testkit';
import { Catalog, FsRefStore, ParquetTableFormat, collectGarbage, refNames } from '../src/index.js';

const SCHEMA = { fields: [{ name: 'id', type: 'int32' as const }] };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(): Promise<{ catalog: Catalog; refs: FsRefStore }> {
  const dir = tempDir('gc-reflog');
  const objects = new FsObjectStore({ root: join(dir.path, 'objects') });
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
  const refs = new FsRefStore({ root: join(dir.path, 'refs') });
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  cleanups.push(async () => {
    await catalog.close();
    await refs.close();
    await objects.close();
    await dir.cleanup();
  });
  return { catalog, refs };
}

/** Appends one row and waits past the millisecond, so every reflog entry has its own time. */
async function commit(catalog: Catalog, id: number, branch = 'main'): Promise<string> {
  const r = await catalog.append('r', 't', [{ id }], { branch });
  await sleep(3);
  return r.commit.hash;
}

describe('gc expires reflogs', () => {
  it('drops reflog entries older than the window, keeps branch@{windowStart}; a dry run expires nothing', async () => {
    const { catalog, refs } = await setup();
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 0 }] });
    await sleep(3);
    const a = await commit(catalog, 1);
    await catalog.createBranch('r', 'old-feature');
    await catalog.deleteBranch('r', 'old-feature');
    await sleep(3);
    const b = await commit(catalog, 2);
    const c = await commit(catalog, 3);
    const d = await commit(catalog, 4);
    const e = await commit(catalog, 5);
    const full = await catalog.branchReflog('r', 'main');
    expect(full.slice(0, 5).map((x) => x.new)).toEqual([e, d, c, b, a]);
    const timeOf = (h: string): number => full.find((x) => x.new === h)!.time;
    // The window opens just after b's entry: b is main's position at its start, c.. are inside it.
    const windowStart = timeOf(b) + 1;
    expect(timeOf(c)).toBeGreaterThan(windowStart);
    const now = Date.now();
    const opts = { now, retainHistoryMs: now - windowStart };
    const atA = (await catalog.resolve('r', `main@{${timeOf(a)}}`)).hash;
    expect(atA).toBe(a);

    const dry = await collectGarbage(catalog, { ...opts, dryRun: true });
    expect(dry.reflog).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect(await catalog.branchReflog('r', 'main')).toEqual(full);

    const res = await collectGarbage(catalog, opts);
    // main: the entries before b's (create, createTable's commit, a) are gone, b's stays;
    // old-feature: created and deleted before the window, so forgotten (both entries).
    expect(res.reflog.refsForgotten).toBe(1);
    expect(res.reflog.entriesRemoved).toBeGreaterThanOrEqual(full.length - 4 + 2);
    expect((await catalog.branchReflog('r', 'main')).map((x) => x.new)).toEqual([e, d, c, b]);
    expect(await refs.reflog(refNames.branch('r', 'old-feature'))).toEqual([]);
    expect((await catalog.resolve('r', `main@{${windowStart}}`)).hash).toBe(b);
    expect((await catalog.read('r', 't', { ref: `main@{${windowStart}}` })).numRows).toBe(3);
    await expect(catalog.resolve('r', `main@{${timeOf(a)}}`)).rejects.toMatchObject({ code: 'REF_NOT_FOUND' });
    // The commit is still there (b's ancestor), only the reflog no longer names it.
    expect((await catalog.readCommit('r', a)).hash).toBe(a);

    // Nothing left to expire for the same window; other repos' refs were never touched.
    const again = await collectGarbage(catalog, opts);
    expect(again.reflog).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect((await catalog.branchReflog('r', 'main')).map((x) => x.new)).toEqual([e, d, c, b]);
  });

  it('expires each repo with its own window', async () => {
    const { catalog } = await setup();
    for (const repo of ['r', 'keep']) {
      await catalog.createRepo(repo);
      await catalog.createTable(repo, 't', { schema: SCHEMA, rows: [{ id: 0 }] });
      for (let i = 1; i <= 3; i++) await catalog.append(repo, 't', [{ id: i }]);
    }
    const keepBefore = await catalog.branchReflog('keep', 'main');
    const res = await collectGarbage(catalog, { now: Date.now() + 10 * 86_400_000, repoRetention: { keep: { retainHistoryMs: 30 * 86_400_000 } } });
    expect(res.reflog.entriesRemoved).toBeGreaterThanOrEqual(4);
    expect(await catalog.branchReflog('r', 'main')).toHaveLength(1);
    expect(await catalog.branchReflog('keep', 'main')).toEqual(keepBefore);
  });
});
