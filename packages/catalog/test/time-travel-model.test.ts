import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryObjectStore } from '@armillaria/chunk-store';
import { seededRandom } from '@armillaria/testkit';
import type { Commit } from '../src/index.js';
import { catalogWithTable, codeOf } from './catalog-helpers.js';

/** Random histories per seed; raise for a soak (each seed runs every cache setting). */
const SEEDS = Number(process.env.ARMILLARIA_TIME_TRAVEL_SEEDS ?? 3);
const OPS = 600;

/** Per commit, what the model knows: table t's version and incarnation (undefined: t absent). */
interface Known {
  commit: Commit;
  version?: number;
  incarnation?: number;
}

/**
 * Version and time lookups on random branching histories (tables dropped and recreated, branches parted
 * from any commit, lookups interleaved with commits, equal commit times), each answer checked against a
 * walk over the model's first-parent lines. Run with caches and lineage limits small enough that lineages
 * are partial, filled in the background, trimmed and copied, and against fresh catalogs (nothing cached).
 */
describe('time travel against a model of the history', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    vi.useRealTimers();
    for (const c of cleanups.splice(0)) await c();
  });

  const settings: Array<{ cacheSize?: number; lineageLimit?: number }> = [
    { cacheSize: 8, lineageLimit: 12 },
    { cacheSize: 40, lineageLimit: 1_000 },
    { cacheSize: 2_000, lineageLimit: 30 },
    {}, // the defaults: whole lineages, the newest commits copied side by side
  ];

  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const opts of settings) {
      it(`seed ${seed}, cacheSize ${opts.cacheSize ?? 'default'}, lineageLimit ${opts.lineageLimit ?? 'default'}`, async () => {
        const rnd = seededRandom(seed * 7919 + (opts.cacheSize ?? 0));
        const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
        vi.useFakeTimers({ toFake: ['Date'] });
        let now = 1_700_000_000_000;
        vi.setSystemTime(now);

        const setup = await catalogWithTable(new MemoryObjectStore(), opts);
        let catalog = setup.catalog;
        cleanups.push(async () => {
          await catalog.close();
          await setup.removeRefs();
        });
        const { created, manifest } = setup;
        let incarnations = 1;
        const lines = new Map<string, Known[]>([['main', [{ commit: created, version: 1, incarnation: 1 }]]]);

        const commitOn = async (branch: string): Promise<void> => {
          const line = lines.get(branch) as Known[];
          const head = line.at(-1) as Known;
          vi.setSystemTime((now += Math.floor(rnd() * 4))); // 0-3 ms: some commits share a time
          const r = rnd();
          let next: Omit<Known, 'commit'>;
          if (head.version === undefined) next = r < 0.7 ? { version: 1, incarnation: ++incarnations } : {};
          else if (r < 0.08) next = {}; // drop t
          else if (r < 0.25) next = { version: head.version, incarnation: head.incarnation }; // another table changes
          else next = { version: head.version + 1, incarnation: head.incarnation };
          const tables: Record<string, { manifest: string; version: number }> = { u: { manifest, version: line.length + 1 } };
          if (next.version !== undefined) tables.t = { manifest, version: next.version };
          const commit = await catalog.commitTree('r', branch, { baseCommit: head.commit.hash, tree: { tables } });
          line.push({ commit, ...next });
        };

        const checkVersion = async (branch: string, v: number): Promise<void> => {
          const line = lines.get(branch) as Known[];
          const head = line.at(-1) as Known;
          // The oldest commit of the tip's incarnation run, going back while the version stays >= v.
          let i = line.length - 1;
          while (i > 0 && line[i - 1]!.incarnation === head.incarnation && (line[i - 1]!.version as number) >= v) i--;
          const got = catalog.tableVersion('r', 't', { ref: branch, version: v });
          if (head.version === undefined) expect(await codeOf(got)).toBe('TABLE_NOT_FOUND');
          else if (v > head.version || line[i]!.version !== v) expect(await codeOf(got), `${branch} v${v}`).toBe('VERSION_NOT_FOUND');
          else expect((await got).commit, `${branch} v${v}`).toBe(line[i]!.commit.hash);
        };

        const checkTime = async (branch: string, at: number): Promise<void> => {
          const line = lines.get(branch) as Known[];
          const tip = (line.at(-1) as Known).commit;
          const expected = [...line].reverse().find((k) => k.commit.time <= at);
          const got = catalog.resolve('r', `${tip.hash}@{${at}}`);
          if (expected) expect((await got).hash, `${branch} @${at}`).toBe(expected.commit.hash);
          else expect(await codeOf(got)).toBe('REF_NOT_FOUND');
        };

        for (let op = 0; op < OPS; op++) {
          const r = rnd();
          const branch = pick([...lines.keys()]);
          const line = lines.get(branch) as Known[];
          if (r < 0.45) await commitOn(branch);
          else if (r < 0.47 && lines.size < 6) {
            // A branch parted from any commit of any line: its line is that line's prefix.
            const cut = 1 + Math.floor(rnd() * line.length);
            const name = `b${op}`;
            await catalog.createBranch('r', name, { from: line[cut - 1]!.commit.hash });
            lines.set(name, line.slice(0, cut));
          } else if (r < 0.49) {
            // Nothing cached: lineages are built again from the store.
            await catalog.close();
            catalog = setup.open();
          } else if (r < 0.75) {
            const head = line.at(-1) as Known;
            const top = head.version ?? 1;
            for (let k = 0; k < 4; k++) await checkVersion(branch, 1 + Math.floor(rnd() * (top + 1)));
          } else {
            for (let k = 0; k < 4; k++) {
              const at = pick(line).commit.time + Math.floor(rnd() * 3) - 1;
              await checkTime(branch, at);
            }
            await checkTime(branch, line[0]!.commit.time - 1);
          }
        }
        // Every answer once more, after the background fills had time to run.
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const [branch, line] of lines) {
          const top = (line.at(-1) as Known).version ?? 0;
          for (let v = 1; v <= top + 1; v++) await checkVersion(branch, v);
          for (const k of line) await checkTime(branch, k.commit.time);
        }
      }, 60_000);
    }
  }
});
