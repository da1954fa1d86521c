import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '@armillaria/core';
import { jsonSafe, tableToRows } from '@armillaria/catalog';
import { commitEvents, type ChangeEvent, type RowChange } from '../src/index.js';
import { embeddedCatalog, rng, type CatalogFixture } from './catalog-fixture.js';

const schema = { fields: [{ name: 'id', type: 'int32' as const }, { name: 'v', type: 'utf8' as const }, { name: 'n', type: 'float64' as const }] };
type Row = { id: number; v: string; n: number };

let fx: CatalogFixture;
beforeEach(async () => {
  fx = await embeddedCatalog();
  await fx.catalog.createRepo('r');
});
afterEach(() => fx.cleanup());

async function rowsAt(table: string, ref: string): Promise<Array<Record<string, unknown>>> {
  return (jsonSafe(tableToRows(await fx.catalog.read('r', table, { ref }))) as Array<Record<string, unknown>>);
}

/** Row changes from two full scans, keyed by `key` (the model the events are checked against). */
function recompute(before: Array<Record<string, unknown>>, after: Array<Record<string, unknown>>, key: string[]): string[] {
  const id = (row: Record<string, unknown>): string => canonicalJson(key.map((k) => row[k]));
  const b = new Map(before.map((r) => [id(r), r]));
  const a = new Map(after.map((r) => [id(r), r]));
  const out: string[] = [];
  for (const [k, r] of b) if (!a.has(k)) out.push(canonicalJson({ kind: 'delete', key: JSON.parse(k), before: r }));
  for (const [k, r] of a) {
    const old = b.get(k);
    if (!old) out.push(canonicalJson({ kind: 'insert', key: JSON.parse(k), after: r }));
    else if (canonicalJson(old) !== canonicalJson(r)) out.push(canonicalJson({ kind: 'update', key: JSON.parse(k), before: old, after: r }));
  }
  return out.sort();
}

const normalise = (rows: readonly RowChange[]): string[] => rows.map((r) => canonicalJson(jsonSafe(r))).sort();

describe('commitEvents', () => {
  it('describes each table a commit changed: op, versions, chunks and row counts', async () => {
    const { catalog } = fx;
    const created = await catalog.createTable('r', 'k', { schema, primaryKey: ['id'], rows: [{ id: 1, v: 'a', n: 1 }, { id: 2, v: 'b', n: 2 }] });
    let [e] = await commitEvents(catalog, 'r', 'main', created.commit.hash);
    expect(e).toMatchObject({
      v: 1, repo: 'r', branch: 'main', table: 'k', commit: created.commit.hash, parent: created.commit.parents[0],
      txnId: created.commit.hash, seq: created.commit.generation, op: 'created', versionBefore: null, versionAfter: 1,
      chunksRemoved: [], rowsAdded: 2, rowsRemoved: 0,
    });
    expect(e!.chunksAdded.length).toBeGreaterThan(0);
    expect(e!.rows).toBeUndefined();

    const up = await catalog.upsert('r', 'k', [{ id: 2, v: 'B', n: 2 }, { id: 3, v: 'c', n: 3 }], { txnId: 'tx-1' });
    [e] = await commitEvents(catalog, 'r', 'main', up.commit, { rows: true });
    expect(e).toMatchObject({ op: 'upserted', txnId: 'tx-1', versionBefore: 1, versionAfter: 2, seq: created.commit.generation + 1 });
    expect(e!.rowsAdded - e!.rowsRemoved).toBe(1);
    expect(normalise(e!.rows!)).toEqual(normalise([
      { kind: 'update', key: [2], before: { id: 2, v: 'b', n: 2 }, after: { id: 2, v: 'B', n: 2 } },
      { kind: 'insert', key: [3], after: { id: 3, v: 'c', n: 3 } },
    ]));
    const d = await catalog.diff('r', created.commit.hash, up.commit.hash);
    expect(e!.chunksAdded).toEqual(d.tables[0]!.chunks.added.map((c) => c.hash));
    expect(e!.chunksRemoved).toEqual(d.tables[0]!.chunks.removed.map((c) => c.hash));

    const del = await catalog.deleteRows('r', 'k', [{ id: 1 }]);
    [e] = await commitEvents(catalog, 'r', 'main', del.commit.hash, { rows: true });
    expect(e).toMatchObject({ op: 'deleted', versionAfter: 3 });
    expect(normalise(e!.rows!)).toEqual(normalise([{ kind: 'delete', key: [1], before: { id: 1, v: 'a', n: 1 } }]));

    await catalog.createTable('r', 'log', { schema });
    const app = await catalog.append('r', 'log', [{ id: 9, v: 'x', n: 0 }]);
    [e] = await commitEvents(catalog, 'r', 'main', app.commit.hash, { rows: true });
    expect(e).toMatchObject({ table: 'log', op: 'appended', versionBefore: 1, versionAfter: 2, rowsAdded: 1, rowsRemoved: 0, chunksRemoved: [] });
    expect(e!.rows!.map((r) => r.kind)).toEqual(['insert']);

    const drop = await catalog.dropTable('r', 'log');
    [e] = await commitEvents(catalog, 'r', 'main', drop.commit.hash);
    expect(e).toMatchObject({ table: 'log', op: 'dropped', versionBefore: 2, versionAfter: null, rowsAdded: 0, rowsRemoved: 1, chunksAdded: [] });

    // The root commit of a repo has an empty tree: no events.
    const root = (await catalog.log('r', { limit: 100 })).at(-1)!;
    expect(await commitEvents(catalog, 'r', 'main', root.hash)).toEqual([]);
  });

  it('reports a compaction as compacted, with its chunks and no row changes', async () => {
    const { catalog } = fx;
    await catalog.createTable('r', 'log', { schema, rows: [{ id: 1, v: 'a', n: 1 }] });
    await catalog.append('r', 'log', [{ id: 2, v: 'b', n: 2 }]);
    const c = await catalog.compactTable('r', 'log');
    const [e] = await commitEvents(catalog, 'r', 'main', c.commit.hash, { rows: true });
    expect(e).toMatchObject({ op: 'compacted', versionBefore: 2, versionAfter: 3, rowsAdded: 2, rowsRemoved: 2, rows: [] });
    expect(e!.chunksAdded).toHaveLength(1);
    expect(e!.chunksRemoved).toHaveLength(2);
  });

  it('returns one event per changed table, sorted by name, and honours a table filter', async () => {
    const { catalog } = fx;
    await catalog.createTable('r', 'b_tbl', { schema, primaryKey: ['id'], rows: [{ id: 1, v: 'a', n: 1 }] });
    const x = await catalog.createTable('r', 'a_tbl', { schema, primaryKey: ['id'], rows: [{ id: 1, v: 'a', n: 1 }] });
    await catalog.upsert('r', 'a_tbl', [{ id: 2, v: 'x', n: 2 }]);
    const z = await catalog.upsert('r', 'b_tbl', [{ id: 2, v: 'y', n: 2 }]);
    // One commit changing two tables (as a transaction makes them): back to x's tree.
    const both = await catalog.commitTree('r', 'main', { baseCommit: z.commit.hash, tree: await catalog.readTree('r', x.commit.tree), txnId: 'multi' });
    const events = await commitEvents(catalog, 'r', 'main', both.hash);
    expect(events.map((e) => [e.table, e.txnId])).toEqual([['a_tbl', 'multi'], ['b_tbl', 'multi']]);
    const only = await commitEvents(catalog, 'r', 'main', both.hash, { tables: ['b_tbl'], rows: true });
    expect(only.map((e) => e.table)).toEqual(['b_tbl']);
    expect(normalise(only[0]!.rows!)).toEqual(normalise([{ kind: 'delete', key: [2], before: { id: 2, v: 'y', n: 2 } }]));
  });

  it('row records match a full recomputation on seeded random workloads', async () => {
    const { catalog } = fx;
    for (const seed of [1, 2, 3]) {
      const rand = rng(seed);
      const table = `k${seed}`;
      await catalog.createTable('r', table, { schema, primaryKey: ['id'] });
      let checked = 0;
      for (let step = 0; step < 25; step++) {
        const p = rand();
        const rows = (count: number): Row[] => {
          const byId = new Map<number, Row>();
          for (let i = 0; i < count; i++) {
            const id = Math.floor(rand() * 300);
            byId.set(id, { id, v: `v${Math.floor(rand() * 5)}`, n: Math.floor(rand() * 3) });
          }
          return [...byId.values()];
        };
        const res = p < 0.6 ? await catalog.upsert('r', table, rows(1 + Math.floor(rand() * 40)))
          : p < 0.9 ? await catalog.deleteRows('r', table, rows(1 + Math.floor(rand() * 20)).map((r) => ({ id: r.id })))
            : await catalog.write('r', table, rows(60));
        if (res.unchanged) {
          // No row changed: no commit was made, so there is nothing to describe.
          expect((await catalog.resolve('r')).hash).toBe(res.commit.hash);
          continue;
        }
        const events: ChangeEvent[] = await commitEvents(catalog, 'r', 'main', res.commit.hash, { rows: true });
        const parent = res.commit.parents[0]!;
        const expected = recompute(await rowsAt(table, parent), await rowsAt(table, res.commit.hash), ['id']);
        if (events.length === 0) {
          expect(expected).toEqual([]);
          continue;
        }
        expect(events.map((e) => e.table)).toEqual([table]);
        expect(normalise(events[0]!.rows!)).toEqual(expected);
        checked += expected.length;
      }
      expect(checked).toBeGreaterThan(50);
    }
  });

  it('row records of unkeyed tables match the rows added and removed by full scans', async () => {
    const { catalog } = fx;
    const rand = rng(7);
    await catalog.createTable('r', 'u', { schema });
    for (let step = 0; step < 12; step++) {
      const rows: Row[] = Array.from({ length: 1 + Math.floor(rand() * 30) }, (_, i) => ({ id: i, v: `s${step}`, n: rand() }));
      const res = rand() < 0.8 ? await catalog.append('r', 'u', rows) : await catalog.write('r', 'u', rows);
      const [e] = await commitEvents(catalog, 'r', 'main', res.commit.hash, { rows: true });
      const before = await rowsAt('u', res.commit.parents[0]!);
      const after = await rowsAt('u', res.commit.hash);
      // Multiset difference of full scans.
      const count = (list: Array<Record<string, unknown>>): Map<string, number> => {
        const m = new Map<string, number>();
        for (const r of list) m.set(canonicalJson(r), (m.get(canonicalJson(r)) ?? 0) + 1);
        return m;
      };
      const bc = count(before);
      const ac = count(after);
      const inserted: string[] = [];
      const deleted: string[] = [];
      for (const [k, n] of ac) for (let i = 0; i < n - (bc.get(k) ?? 0); i++) inserted.push(k);
      for (const [k, n] of bc) for (let i = 0; i < n - (ac.get(k) ?? 0); i++) deleted.push(k);
      // Unkeyed tables are diffed by position: an update is the row that was at a position and the one there now.
      const rowsOf = (kind: 'insert' | 'delete'): string[] => e!.rows!.flatMap((r) => {
        if (kind === 'delete') return r.kind === 'delete' || r.kind === 'update' ? [canonicalJson(jsonSafe(r.before))] : [];
        return r.kind === 'insert' || r.kind === 'update' ? [canonicalJson(jsonSafe(r.after))] : [];
      }).sort();
      // An overwrite may keep equal rows; the event may then list them as removed and added again.
      const net = (ins: string[], del: string[]): [string[], string[]] => {
        const d = [...del];
        const i2 = ins.filter((x) => {
          const j = d.indexOf(x);
          if (j >= 0) {
            d.splice(j, 1);
            return false;
          }
          return true;
        });
        return [i2.sort(), d.sort()];
      };
      expect(net(rowsOf('insert'), rowsOf('delete'))).toEqual(net(inserted, deleted));
      expect(e!.rowsAdded - e!.rowsRemoved).toBe(after.length - before.length);
    }
  });

  it('rejects a missing branch and unknown commits with typed errors', async () => {
    await expect(commitEvents(fx.catalog, 'r', '', 'f'.repeat(64))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(commitEvents(fx.catalog, 'r', 'main', 'f'.repeat(64))).rejects.toMatchObject({ code: 'COMMIT_NOT_FOUND' });
    await expect(commitEvents(fx.catalog, 'nope', 'main', 'f'.repeat(64))).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' });
  });
});
