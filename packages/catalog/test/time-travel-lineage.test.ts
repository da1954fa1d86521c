import { afterEach, describe, expect, it, vi } from 'vitest';
import { ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, ParquetTableFormat, type Commit } from '../src/index.js';
import { codeOf, embeddedCatalog, type EmbeddedCatalog } from './catalog-helpers.js';

/**
 * Version and time lookups answer the same whether they go through the in-memory lineage index (a
 * history this process wrote, extended tip by tip, copied where two branches part) or through skip
 * pointers (a fresh catalog over the same stores), checked against the history as it was built.
 */
describe('time travel over lineages', () => {
  let env: EmbeddedCatalog | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await env?.cleanup();
    env = undefined;
  });

  it('finds every version and time on a main line with a dropped and recreated table and on a branch that parts from it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    let now = 1_700_000_000_000;
    const tick = (ms: number): void => {
      now += ms;
      vi.setSystemTime(now);
    };
    tick(0);
    env = await embeddedCatalog();
    const { catalog } = env;
    await catalog.createRepo('r');
    const created = await catalog.createTable('r', 't', { rows: [{ id: 1n }], primaryKey: ['id'] });
    const manifest = created.manifest as string;
    /** Per branch: the commit that introduced each version of the current incarnation of `t`. */
    const introduced: Record<string, Map<number, Commit>> = { main: new Map([[1, created.commit]]), side: new Map() };
    const commits: Record<string, Commit[]> = { main: [created.commit], side: [] };

    // Each commit is looked up right away, so the lineage of the new head extends the previous one.
    const commit = async (branch: string, tables: Record<string, { manifest: string; version: number }>, ms: number): Promise<Commit> => {
      tick(ms);
      const base = commits[branch]!.at(-1) as Commit;
      const c = await catalog.commitTree('r', branch, { baseCommit: base.hash, tree: { tables } });
      commits[branch]!.push(c);
      const v = tables.t?.version;
      if (v !== undefined) {
        if (v === 1) introduced[branch]!.clear();
        introduced[branch]!.set(v, c);
        expect((await catalog.tableVersion('r', 't', { ref: branch, version: v })).commit).toBe(c.hash);
      }
      return c;
    };
    for (let v = 2; v <= 40; v++) await commit('main', { t: { manifest, version: v } }, 1 + (v % 3) * 7);
    // `side` parts from main at version 30: its lineage is a copy up to there, then its own.
    await catalog.createBranch('r', 'side', { from: (introduced.main!.get(30) as Commit).hash });
    commits.side = commits.main!.slice(0, commits.main!.indexOf(introduced.main!.get(30) as Commit) + 1);
    for (let v = 1; v <= 30; v++) introduced.side!.set(v, introduced.main!.get(v) as Commit);
    for (let v = 31; v <= 45; v++) await commit('side', { t: { manifest, version: v } }, 3);
    await commit('main', {}, 5); // drop t
    for (let v = 1; v <= 25; v++) await commit('main', { t: { manifest, version: v } }, 2 + (v % 4));

    const chunks = new ObjectChunkStore({ objects: env.objects, hasher: await loadHasher() });
    const fresh = new Catalog({ chunks, refs: env.refs, format: new ParquetTableFormat({ chunks }) });
    for (const c of [catalog, fresh]) {
      for (const branch of ['main', 'side']) {
        const byVersion = introduced[branch]!;
        for (const [v, intro] of byVersion) expect((await c.tableVersion('r', 't', { ref: branch, version: v })).commit, `${branch} v${v}`).toBe(intro.hash);
        expect(await codeOf(c.tableVersion('r', 't', { ref: branch, version: byVersion.size + 1 }))).toBe('VERSION_NOT_FOUND');
        // commit@{t}: the newest first-parent ancestor made at or before t, for times on, between and before commits.
        const line = commits[branch]!;
        const tip = line.at(-1) as Commit;
        for (const [i, k] of line.entries()) {
          for (const at of [k.time, k.time + 1, k.time - 1]) {
            const expected = [...line.slice(0, i + 2)].reverse().find((x) => x.time <= at);
            const got = c.resolve('r', `${tip.hash}@{${at}}`);
            if (expected) expect((await got).hash, `${branch} @${at}`).toBe(expected.hash);
            else expect(await codeOf(got)).toBe('REF_NOT_FOUND');
          }
        }
      }
    }
  });
});
