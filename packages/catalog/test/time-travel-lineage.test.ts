import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, type Commit } from '../src/index.js';
import { LineageIndex, topOf } from '../src/model/lineage-index.js';
import { catalogWithTable, codeOf, embeddedCatalog, type EmbeddedCatalog } from './catalog-helpers.js';

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

/** A memory object store counting reads: a lookup the lineage answers reads nothing. */
class ReadCountingObjectStore extends MemoryObjectStore {
  gets = 0;
  override async get(...args: Parameters<MemoryObjectStore['get']>): ReturnType<MemoryObjectStore['get']> {
    this.gets++;
    return super.get(...args);
  }
}

describe('lineages longer than the commit cache or than their limit', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cleanups.splice(0)) await c();
  });

  /** A catalog over counted memory objects whose table `t` has `versions` versions, one commit each, 7 ms apart. */
  async function history(versions: number, opts: { cacheSize?: number; lineageLimit?: number }): Promise<{ catalog: Catalog; objects: ReadCountingObjectStore; line: Commit[] }> {
    vi.useFakeTimers({ toFake: ['Date'] });
    let now = 1_700_000_000_000;
    vi.setSystemTime(now);
    const objects = new ReadCountingObjectStore();
    const { catalog, created, manifest, removeRefs } = await catalogWithTable(objects, opts);
    cleanups.push(async () => {
      await catalog.close();
      await removeRefs();
    });
    const line = [created];
    for (let v = 2; v <= versions; v++) {
      vi.setSystemTime((now += 7));
      line.push(await catalog.commitTree('r', 'main', { baseCommit: (line.at(-1) as Commit).hash, tree: { tables: { t: { manifest, version: v } } } }));
    }
    return { catalog, objects, line };
  }

  /**
   * Looks up `targets` versions and times (on and just before commits), checked against `line`; returns
   * the object reads the version lookups made and those the time lookups made.
   */
  async function lookUp(catalog: Catalog, objects: ReadCountingObjectStore, line: Commit[], targets: number[]): Promise<{ versionReads: number; timeReads: number }> {
    const tip = line.at(-1) as Commit;
    let before = objects.gets;
    for (const v of targets) expect((await catalog.tableVersion('r', 't', { version: v })).commit, `version ${v}`).toBe(line[v - 1]!.hash);
    const versionReads = objects.gets - before;
    before = objects.gets;
    for (const v of targets) {
      const k = line[v - 1] as Commit;
      expect((await catalog.resolve('r', `${tip.hash}@{${k.time}}`)).hash, `@${k.time}`).toBe(k.hash);
      const justBefore = catalog.resolve('r', `${tip.hash}@{${k.time - 1}}`);
      if (v === 1) expect(await codeOf(justBefore)).toBe('REF_NOT_FOUND');
      else expect((await justBefore).hash, `@${k.time - 1}`).toBe(line[v - 2]!.hash);
    }
    return { versionReads, timeReads: objects.gets - before };
  }

  /**
   * Runs `round` until it reads at most `limit` objects (background fills done), at most `max` times;
   * returns the last round's reads.
   */
  async function settle(round: () => Promise<{ versionReads: number; timeReads: number }>, limit: (r: { versionReads: number; timeReads: number }) => boolean, max = 20): Promise<{ versionReads: number; timeReads: number }> {
    let r = await round();
    for (let i = 1; i < max && !limit(r); i++) {
      await new Promise((resolve) => setImmediate(resolve));
      r = await round();
    }
    return r;
  }

  it('indexes a history 30 times the commit cache: a version lookup reads nothing, a time lookup only the commit it returns', async () => {
    const { catalog, objects, line } = await history(480, { cacheSize: 16 });
    const all = Array.from({ length: line.length }, (_, i) => i + 1);
    // Every round answers right; the first ones take the skip pointers (about log2(480) reads each).
    const first = await lookUp(catalog, objects, line, all.slice(0, 100));
    expect(first.versionReads).toBeGreaterThan(100);
    // Once the lineage is filled in the background: no reads for versions, at most the returned commit for times.
    const indexed = (r: { versionReads: number; timeReads: number }): boolean => r.versionReads === 0 && r.timeReads <= 2 * all.length;
    expect(await settle(() => lookUp(catalog, objects, line, all), indexed)).toSatisfy(indexed);
    // A fresh catalog over the same objects (nothing cached) gets there too.
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const fresh = new Catalog({ chunks, refs: catalog.refs, format: new ParquetTableFormat({ chunks }), cacheSize: 16 });
    expect(await settle(() => lookUp(fresh, objects, line, all), indexed)).toSatisfy(indexed);
    await fresh.close();
  });

  it('fills a history of many 128-generation segments read side by side, cut at the lineage limit', async () => {
    const { catalog, objects, line } = await history(2_600, { cacheSize: 16 });
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const indexed = (r: { versionReads: number; timeReads: number }): boolean => r.versionReads === 0;
    // Lookups spread over the history: the first ones miss, start the fill, then find it complete.
    const spread = Array.from({ length: 130 }, (_, i) => 1 + i * 20);
    for (const lineageLimit of [undefined, 2_000]) {
      const fresh = new Catalog({ chunks, refs: catalog.refs, format: new ParquetTableFormat({ chunks }), cacheSize: 16, lineageLimit });
      // The oldest version the lineage holds needs the skip pointers too (it may have been introduced earlier).
      const within = lineageLimit === undefined ? spread : spread.filter((v) => v > line.length - lineageLimit + 1);
      expect(await settle(() => lookUp(fresh, objects, line, within), indexed, 200), `limit ${lineageLimit}`).toSatisfy(indexed);
      // Older than the limit: still right, through the skip pointers.
      if (lineageLimit !== undefined) await lookUp(fresh, objects, line, spread.filter((v) => v <= line.length - lineageLimit));
      await fresh.close();
    }
  }, 60_000);

  it('keeps the newest `lineageLimit` generations: older lookups take the skip pointers and stay correct', async () => {
    const { catalog, objects, line } = await history(300, { lineageLimit: 50 });
    const all = Array.from({ length: line.length }, (_, i) => i + 1);
    // All commits and trees are cached (300 < 50,000): nothing is read, in the window or before it.
    expect(await lookUp(catalog, objects, line, all)).toEqual({ versionReads: 0, timeReads: 0 });
    // A branch moving past the limit drops its oldest generations and keeps answering.
    const manifest = (await catalog.tableVersion('r', 't')).manifest;
    for (let v = 301; v <= 420; v++) {
      vi.setSystemTime(line.at(-1)!.time + 7);
      line.push(await catalog.commitTree('r', 'main', { baseCommit: line.at(-1)!.hash, tree: { tables: { t: { manifest, version: v } } } }));
      // Looked up at every commit, so each new tip extends the lineage (trimmed past 100 generations).
      await lookUp(catalog, objects, line, v % 10 === 0 ? [v, v - 49, v - 50, v - 120, 1] : [v]);
    }
    await lookUp(catalog, objects, line, Array.from({ length: line.length }, (_, i) => i + 1));
  });
});

describe('LineageIndex', () => {
  /** A linear history of `n` commits (only the fields a lineage reads). */
  const chain = (n: number): Commit[] => {
    const out: Commit[] = [];
    for (let g = 0; g < n; g++) {
      const hash = g.toString(16).padStart(64, '0');
      out.push({ hash, generation: g, time: 1000 + g, tree: `t${g}`, parents: g === 0 ? [] : [out[g - 1]!.hash] } as unknown as Commit);
    }
    return out;
  };

  it('extends a tip in place, drops its oldest generations past the limit and fills downwards from the cache', () => {
    const commits = chain(300);
    const cached = new Map<string, Commit>();
    const index = new LineageIndex((h) => cached.get(h), () => undefined, 50);
    let lineage = index.of(commits[0]!);
    for (const c of commits.slice(1)) {
      const next = index.of(c);
      expect(next).toBe(lineage); // the same arrays, one slot longer
      lineage = next;
      expect(lineage.times.length).toBeLessThanOrEqual(100);
    }
    expect(topOf(lineage)).toBe(299);
    expect(lineage.low).toBeGreaterThanOrEqual(200);
    expect(lineage.hashes).toEqual(commits.slice(lineage.low).map((c) => c.hash));
    expect(lineage.below).toBe(commits[lineage.low - 1]!.hash);
    // A tip nothing indexed fills down through cached commits, up to the limit.
    for (const c of commits) cached.set(c.hash, c);
    const other = new LineageIndex((h) => cached.get(h), () => undefined, 50).of(commits[120]!);
    expect([other.low, other.times.length, other.below]).toEqual([71, 50, commits[70]!.hash]);
    expect(other.times).toEqual(commits.slice(71, 121).map((c) => c.time));
  });

  it('adds older commits only where they continue the lineage', () => {
    const commits = chain(10);
    const index = new LineageIndex(() => undefined, () => undefined);
    const lineage = index.of(commits[9]!);
    index.extendDown(lineage, [commits[7]!, commits[6]!]); // does not start below generation 9: ignored
    expect(lineage.low).toBe(9);
    index.extendDown(lineage, [commits[8]!, commits[7]!]);
    expect([lineage.low, lineage.below]).toEqual([7, commits[6]!.hash]);
    index.extendDown(lineage, commits.slice(0, 7).reverse());
    expect([lineage.low, lineage.below, index.missing(lineage)]).toEqual([0, undefined, undefined]);
    expect(lineage.hashes).toEqual(commits.map((c) => c.hash));
  });
});

describe('cache options', () => {
  it('refuses a cacheSize or lineageLimit that is not an integer >= 1 with INVALID_ARGUMENT', async () => {
    const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-opts-'));
    try {
      for (const bad of [{ cacheSize: 0 }, { lineageLimit: -1 }, { lineageLimit: 1.5 }, { cacheSize: Number.NaN }]) {
        const err = (() => {
          try {
            new Catalog({ chunks, refs: new FsRefStore({ root: dir }), format: new ParquetTableFormat({ chunks }), ...bad });
          } catch (e) {
            return e as { code?: string };
          }
          return undefined;
        })();
        expect(err?.code, JSON.stringify(bad)).toBe('INVALID_ARGUMENT');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
