import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog, Commit } from '@armillaria/catalog';
import { Changelog, MemoryCursorStore, commitEvents, type ChangeBus, type ChangeEvent } from '../src/index.js';
import { embeddedCatalog, type CatalogFixture } from './catalog-fixture.js';
import { take } from './helpers.js';

export const schema = { fields: [{ name: 'id', type: 'int32' as const }, { name: 'v', type: 'utf8' as const }] };

/** Every event of the first-parent commits after generation `afterSeq` up to the head, oldest first. */
export async function expectedEvents(catalog: Catalog, repo: string, branch: string, afterSeq: number, tables?: string[]): Promise<ChangeEvent[]> {
  const chain: Commit[] = [];
  let c: Commit | undefined = await catalog.resolve(repo, branch);
  while (c && c.generation > afterSeq) {
    chain.push(c);
    c = c.parents[0] ? await catalog.readCommit(repo, c.parents[0]) : undefined;
  }
  const out: ChangeEvent[] = [];
  for (const x of chain.reverse()) out.push(...(await commitEvents(catalog, repo, branch, x, tables ? { tables } : {})));
  return out;
}

export const ids = (events: readonly ChangeEvent[]): string[] => events.map((e) => `${e.seq}:${e.table}:${e.commit.slice(0, 8)}`);

/** Subscription behaviour on one bus implementation (the bus is created fresh for every test). */
export function subscribeSuite(name: string, makeBus: () => Promise<{ bus: ChangeBus; cleanup(): Promise<void> }>): void {
  describe(`Changelog.subscribe on ${name}`, () => {
    let fx: CatalogFixture;
    let bus: ChangeBus;
    let cleanupBus: () => Promise<void>;
    let changelog: Changelog;
    let cursors: MemoryCursorStore;
    const put = async (table: string, id: number, publish = true): Promise<Commit> => {
      const res = await fx.catalog.upsert('r', table, [{ id, v: `v${id}` }]);
      if (publish) await changelog.publishCommit('r', 'main', res.commit);
      return res.commit;
    };

    beforeEach(async () => {
      fx = await embeddedCatalog();
      ({ bus, cleanup: cleanupBus } = await makeBus());
      cursors = new MemoryCursorStore();
      changelog = new Changelog({ catalog: fx.catalog, bus, cursors });
      await fx.catalog.createRepo('r');
      for (const t of ['a', 'b']) await changelog.publishCommit('r', 'main', (await fx.catalog.createTable('r', t, { schema, primaryKey: ['id'] })).commit);
    });
    afterEach(async () => {
      await bus.close();
      await cleanupBus();
      await fx.cleanup();
    });

    it('replays from the earliest commit, then follows live commits without gap or duplicate', async () => {
      for (let i = 0; i < 5; i++) await put(i % 2 ? 'a' : 'b', i);
      const it = changelog.subscribe({ repo: 'r', branch: 'main', from: 'earliest' })[Symbol.asyncIterator]();
      const got: ChangeEvent[] = [];
      for (let i = 0; i < 7; i++) got.push((await it.next()).value);
      for (let i = 5; i < 9; i++) await put('a', i);
      for (let i = 0; i < 4; i++) got.push((await it.next()).value);
      await it.return?.();
      expect(ids(got)).toEqual(ids(await expectedEvents(fx.catalog, 'r', 'main', -1)));
    });

    it('starts after a version, a commit, a time, or the head (latest)', async () => {
      const commits: Commit[] = [];
      for (let i = 0; i < 6; i++) commits.push(await put(i % 2 ? 'a' : 'b', i));
      // Version 3 of `a` was made by commits[3] (v1 create, v2 commits[1]).
      const fromVersion = await take(changelog.subscribe({ repo: 'r', branch: 'main', tables: ['a'], from: { version: 2 } }), 2);
      expect(fromVersion.map((e) => [e.table, e.versionAfter])).toEqual([['a', 3], ['a', 4]]);
      const fromCommit = await take(changelog.subscribe({ repo: 'r', branch: 'main', from: { commit: commits[3]!.hash } }), 2);
      expect(fromCommit.map((e) => e.commit)).toEqual([commits[4]!.hash, commits[5]!.hash]);
      const fromTime = await take(changelog.subscribe({ repo: 'r', branch: 'main', from: { time: commits[5]!.time } }), 1, 3_000).catch(() => []);
      // At commits[5]'s time the branch was at commits[5] (or later): nothing replayed, nothing delivered yet.
      expect(fromTime.length).toBe(0);

      const latest = changelog.subscribe({ repo: 'r', branch: 'main', from: 'latest' })[Symbol.asyncIterator]();
      const first = latest.next();
      await new Promise((r) => setTimeout(r, 200));
      const c = await put('b', 100);
      expect((await first).value.commit).toBe(c.hash);
      await latest.return?.();
    });

    it('filters by table and attaches row records when asked', async () => {
      await put('a', 1);
      await put('b', 2);
      await put('a', 3);
      const got = await take(changelog.subscribe({ repo: 'r', branch: 'main', tables: ['a'], from: 'earliest', rows: true }), 3);
      expect(got.map((e) => [e.table, e.op])).toEqual([['a', 'created'], ['a', 'upserted'], ['a', 'upserted']]);
      expect(got[2]!.rows).toEqual([{ kind: 'insert', key: [3], after: { id: 3, v: 'v3' } }]);
    });

    it('fills gaps from the catalog: unpublished and out-of-order commits arrive once, in commit order', async () => {
      const it = changelog.subscribe({ repo: 'r', branch: 'main', from: 'latest' })[Symbol.asyncIterator]();
      const first = it.next();
      await new Promise((r) => setTimeout(r, 200));
      const lost = await put('a', 1, false); // a publisher that crashed before publishing
      const c2 = await put('b', 2, false);
      const c3 = await put('a', 3, false);
      await changelog.publishCommit('r', 'main', c3); // published before c2
      await changelog.publishCommit('r', 'main', c2);
      const c4 = await put('b', 4);
      const got = [(await first).value as ChangeEvent];
      for (let i = 0; i < 3; i++) got.push((await it.next()).value);
      await it.return?.();
      expect(got.map((e) => e.commit)).toEqual([lost.hash, c2.hash, c3.hash, c4.hash]);
    });

    it('takes a multi-table commit from the bus once all its tables are in, and events without commitTables from the catalog', async () => {
      const it = changelog.subscribe({ repo: 'r', branch: 'main', from: 'latest' })[Symbol.asyncIterator]();
      const first = it.next();
      await new Promise((r) => setTimeout(r, 200));
      const x = await fx.catalog.resolve('r', 'main');
      const c1 = await put('a', 1, false);
      const c2 = await put('b', 2, false);
      const both = await fx.catalog.commitTree('r', 'main', { baseCommit: c2.hash, tree: await fx.catalog.readTree('r', x.tree), txnId: 'both' });
      // c1 and c2 as a publisher that sets no commitTables (like an older one) would send them.
      for (const c of [c1, c2]) await bus.publish((await commitEvents(fx.catalog, 'r', 'main', c)).map(({ commitTables: _omit, ...e }) => e));
      const [ea, eb] = await commitEvents(fx.catalog, 'r', 'main', both);
      await bus.publish([eb!]);
      await bus.publish([ea!]);
      const got = [(await first).value as ChangeEvent];
      for (let i = 0; i < 3; i++) got.push((await it.next()).value);
      await it.return?.();
      expect(got.map((e) => [e.commit, e.table])).toEqual([[c1.hash, 'a'], [c2.hash, 'b'], [both.hash, 'a'], [both.hash, 'b']]);
      expect(got[2]!.commitTables).toEqual(['a', 'b']);
    });

    it('a durable subscription resumes after its last delivered event, also inside a multi-table commit', async () => {
      const x = await fx.catalog.resolve('r', 'main');
      await put('a', 1);
      const z = await put('b', 2);
      const both = await fx.catalog.commitTree('r', 'main', { baseCommit: z.hash, tree: await fx.catalog.readTree('r', x.tree), txnId: 'two-tables' });
      await changelog.publishCommit('r', 'main', both);
      await put('a', 5);
      const all = await expectedEvents(fx.catalog, 'r', 'main', -1);
      expect(all.length).toBe(7);
      const seen: ChangeEvent[] = [];
      // Take 1, 2, 1, 2… events per session; each session ends with return() (a consumer that stops).
      for (let session = 0; seen.length < all.length; session++) {
        const batch = await take(changelog.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'worker-1' }), Math.min(1 + (session % 2), all.length - seen.length));
        seen.push(...batch);
      }
      expect(ids(seen)).toEqual(ids(all));
      expect((await cursors.load('worker-1'))?.commit).toBe(all.at(-1)!.commit);
      // Nothing more until a new commit; then exactly it.
      const it = changelog.subscribe({ repo: 'r', branch: 'main', durableName: 'worker-1' })[Symbol.asyncIterator]();
      const next = it.next();
      await new Promise((r) => setTimeout(r, 200));
      const c = await put('b', 9);
      expect((await next).value.commit).toBe(c.hash);
      await it.return?.();
    });

    it('rejects bad options with INVALID_ARGUMENT and unknown starts with catalog codes', async () => {
      const first = async (opts: object): Promise<unknown> => changelog.subscribe(opts as never)[Symbol.asyncIterator]().next();
      await expect(first({ repo: '', branch: 'main' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(first({ repo: 'r', branch: 'main', from: 'yesterday' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(first({ repo: 'r', branch: 'main', from: { version: 0, table: 'a' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(first({ repo: 'r', branch: 'main', from: { version: 2 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(first({ repo: 'r', branch: 'main', durableName: '../x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(() => new Changelog({ catalog: fx.catalog, bus }).subscribe({ repo: 'r', branch: 'main', durableName: 'w' })).toThrow(/cursor store/);
      await cursors.save('w2', { repo: 'other', branch: 'main', commit: 'a'.repeat(64), seq: 1, table: 'a', savedAt: 0 });
      await expect(first({ repo: 'r', branch: 'main', durableName: 'w2' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(first({ repo: 'r', branch: 'main', from: { version: 99, table: 'a' } })).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
      await expect(first({ repo: 'r', branch: 'nope' })).rejects.toMatchObject({ code: expect.stringMatching(/BRANCH_NOT_FOUND|REF_NOT_FOUND/) });
      await expect(first({ repo: 'nope', branch: 'main' })).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' });
    });
  });
}
