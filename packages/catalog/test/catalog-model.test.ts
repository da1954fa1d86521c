import { afterAll, describe, expect, it } from 'vitest';
import { errorOf, embeddedCatalog, plainRows, type EmbeddedCatalog } from './catalog-helpers.js';
import { seededRandom as rng } from '@armillaria/testkit';

type Row = { id: number; v: string; n: number };
type State = Map<number, Row>;
interface Version { version: number; commit: string; state: State }

const schema = { fields: [{ name: 'id', type: 'int64' as const, nullable: false }, { name: 'v', type: 'utf8' as const }, { name: 'n', type: 'float64' as const }] };
const sorted = (s: State): Row[] => [...s.values()].sort((a, b) => a.id - b.id);

describe('Catalog vs a plain-Map model (seeded random workloads)', () => {
  let env: EmbeddedCatalog;
  afterAll(async () => env?.cleanup());

  for (const seed of [7, 20261123]) {
    it(`seed ${seed}: write/append/upsert/delete across branches, every historical version reads back`, async () => {
      env = await embeddedCatalog();
      const c = env.catalog;
      const rand = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
      const repo = `model-${seed}`;
      await c.createRepo(repo);
      const created = await c.createTable(repo, 't', { schema, primaryKey: ['id'] });
      const history = new Map<string, Version[]>([['main', [{ version: 1, commit: created.commit.hash, state: new Map() }]]]);
      const randomRows = (count: number, tag: string): Row[] => {
        const ids = new Set<number>();
        while (ids.size < count) ids.add(Math.floor(rand() * 40));
        return [...ids].map((id) => ({ id, v: `${tag}-${id}`, n: Math.round(rand() * 1000) / 10 }));
      };

      for (let step = 0; step < 36; step++) {
        const branch = pick([...history.keys()]);
        const versions = history.get(branch) as Version[];
        const last = versions.at(-1) as Version;
        const state = new Map(last.state);
        const op = rand();
        let res;
        if (op < 0.12) {
          const name = `b${step}`;
          await c.createBranch(repo, name, { from: branch });
          history.set(name, [...versions]);
          continue;
        } else if (op < 0.45) {
          const rows = randomRows(1 + Math.floor(rand() * 6), `u${step}`);
          for (const r of rows) state.set(r.id, r);
          res = await c.upsert(repo, 't', rows, { branch });
        } else if (op < 0.65) {
          const ids = randomRows(1 + Math.floor(rand() * 4), 'd').map((r) => ({ id: r.id }));
          for (const k of ids) state.delete(k.id);
          res = await c.deleteRows(repo, 't', ids, { branch });
        } else if (op < 0.8) {
          const rows = randomRows(Math.floor(rand() * 8), `w${step}`);
          state.clear();
          for (const r of rows) state.set(r.id, r);
          res = await c.write(repo, 't', rows, { branch });
        } else {
          const fresh = randomRows(1 + Math.floor(rand() * 4), `a${step}`).map((r) => ({ ...r, id: 100 + step * 10 + (r.id % 10) }));
          const unique = [...new Map(fresh.map((r) => [r.id, r])).values()];
          for (const r of unique) state.set(r.id, r);
          res = await c.append(repo, 't', unique, { branch });
        }
        if (res.unchanged) {
          // A write that changes no row (an upsert of held rows, a delete of absent keys) commits nothing.
          expect(res.version).toBe(last.version);
          expect(sorted(state)).toEqual(sorted(last.state));
          expect((await c.resolve(repo, branch)).hash).toBe(last.commit);
          continue;
        }
        expect(res.version).toBe(last.version + 1);
        versions.push({ version: res.version as number, commit: res.commit.hash, state });
        history.set(branch, versions.slice());
        expect(plainRows(await c.read(repo, 't', { ref: branch }))).toEqual(sorted(state));
      }

      for (const [branch, versions] of history) {
        for (const v of versions) {
          expect(plainRows(await c.read(repo, 't', { ref: branch, version: v.version })), `${branch} v${v.version}`).toEqual(sorted(v.state));
          expect(plainRows(await c.read(repo, 't', { ref: v.commit.slice(0, 12) })), `${branch} @${v.commit}`).toEqual(sorted(v.state));
        }
        const log = await c.log(repo, { ref: branch, table: 't' });
        expect(log.map((e) => e.tableVersion)).toEqual(versions.map((v) => v.version).reverse());
        expect(log.map((e) => e.hash)).toEqual(versions.map((v) => v.commit).reverse());
      }
      await env.cleanup();
    });
  }
});

describe('three-way merge vs a model (seeded random edits on two branches)', () => {
  const same = (a: Row | undefined, b: Row | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

  for (const [seed, strategy] of [[1, 'fail'], [2, 'fail'], [3, 'ours'], [4, 'theirs'], [5, 'theirs']] as const) {
    it(`seed ${seed}, strategy ${strategy}`, async () => {
      const env = await embeddedCatalog();
      const c = env.catalog;
      const rand = rng(seed);
      await c.createRepo('m');
      const base: State = new Map();
      for (let id = 0; id < 30; id++) if (rand() < 0.7) base.set(id, { id, v: `base-${id}`, n: id });
      await c.createTable('m', 't', { schema, primaryKey: ['id'], rows: sorted(base) });
      await c.createBranch('m', 'other');
      const sides: Record<'main' | 'other', State> = { main: new Map(base), other: new Map(base) };
      for (const side of ['main', 'other'] as const) {
        const state = sides[side];
        for (let round = 0; round < 3; round++) {
          // Keys 0-9 are edited by both sides (conflicts possible); 10-29 by one side each.
          const ups: Row[] = [];
          const dels: number[] = [];
          for (let id = 0; id < 30; id++) {
            const mine = id < 10 || (side === 'main' ? id < 20 : id >= 20);
            if (!mine || rand() > 0.25) continue;
            if (rand() < 0.3 && state.has(id)) dels.push(id);
            else ups.push({ id, v: rand() < 0.5 ? `same-${id}` : `${side}-${round}-${id}`, n: id });
          }
          for (const r of ups) state.set(r.id, r);
          for (const id of dels) state.delete(id);
          if (ups.length) await c.upsert('m', 't', ups, { branch: side });
          if (dels.length) await c.deleteRows('m', 't', dels.map((id) => ({ id })), { branch: side });
        }
      }
      const expected: State = new Map();
      const conflicts: number[] = [];
      for (let id = 0; id < 30; id++) {
        const b = base.get(id);
        const o = sides.main.get(id);
        const t = sides.other.get(id);
        const oc = !same(o, b);
        const tc = !same(t, b);
        let r = o;
        if (tc && !oc) r = t;
        else if (oc && tc && !same(o, t)) {
          conflicts.push(id);
          if (strategy === 'theirs') r = t;
        }
        if (r) expected.set(id, r);
      }
      const headBefore = await c.resolve('m');
      if (strategy === 'fail' && conflicts.length > 0) {
        const err = await errorOf(c.merge('m', { source: 'other' }));
        expect(err.code).toBe('MERGE_CONFLICT');
        const keys = (err.details?.conflicts as Array<{ key: number[] }>).map((x) => x.key[0]).sort((a, b) => (a as number) - (b as number));
        expect(keys).toEqual(conflicts);
        expect((await c.resolve('m')).hash).toBe(headBefore.hash);
        expect(plainRows(await c.read('m', 't'))).toEqual(sorted(sides.main));
      } else {
        const res = await c.merge('m', { source: 'other', strategy });
        expect(res.resolved.length).toBe(conflicts.length);
        expect(plainRows(await c.read('m', 't'))).toEqual(sorted(expected));
      }
      await env.cleanup();
    });
  }
});
