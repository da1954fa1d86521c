// An upsert of rows the table holds changes nothing: no delta rows are written for them, and a write
// that changes no row at all is no new version (the catalog makes no commit).
import { describe, expect, it } from 'vitest';
import { Catalog, FsRefStore } from '../src/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { Int64, Table, vectorFromArray } from 'apache-arrow';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { customer, customersTable, makeFormat, rowsOf, type Customer } from './table-format-helpers.js';

const ids = (n: number, step = 2) => Array.from({ length: n }, (_, i) => BigInt(i * step));

describe('upserts of rows the table holds', () => {
  it('write nothing for those rows: all of them give the same version, some of them the rest\'s edit', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const rows = ids(4000).map((i) => customer(i));
    const base = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const held = customersTable(ids(40, 100).map((i) => customer(i)));
    for (const t of [held, held.select(['id', 'name']), held.select(['id'])]) {
      const same = await format.upsert(base.manifest, t);
      expect(same).toMatchObject({ manifest: base.manifest, bytesWritten: 0, chunksWritten: 0 });
    }
    // Held rows mixed with changed ones: the same version as upserting only the changed ones.
    const changed = ids(10, 300).map((i): Customer => ({ ...customer(i + 2n), name: `changed-${i + 2n}` }));
    const mixed = await format.upsert(base.manifest, customersTable([...ids(40, 100).map((i) => customer(i)), ...changed].reverse()));
    expect(mixed.manifest).toBe((await format.upsert(base.manifest, customersTable(changed))).manifest);
    // Putting back the base value of a key the delta changed is a change (the delta row must go).
    const back = await format.upsert(mixed.manifest, customersTable([customer(changed[0]!.id)]));
    expect(back.manifest).not.toBe(mixed.manifest);
    expect(rowsOf(await format.read(back.manifest)).find((r) => r.id === changed[0]!.id)).toEqual({ ...customer(changed[0]!.id) });
  });

  it('a table whose every column is key: an upsert of held keys changes nothing, new keys are added', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const pairs = (xs: Array<[number, number]>) => new Table({
      user: vectorFromArray(xs.map(([u]) => BigInt(u)), new Int64()), grp: vectorFromArray(xs.map(([, g]) => BigInt(g)), new Int64()),
    });
    const all = Array.from({ length: 3000 }, (_, i): [number, number] => [Math.floor(i / 3), i % 3]);
    const base = await format.write(pairs(all), { primaryKey: ['user', 'grp'] });
    expect((await format.upsert(base.manifest, pairs([[5, 1], [700, 2], [999, 0]]))).manifest).toBe(base.manifest);
    const added = await format.upsert(base.manifest, pairs([[5, 1], [5, 7], [999, 0]]));
    expect(added.manifest).toBe((await format.upsert(base.manifest, pairs([[5, 7]]))).manifest);
    expect(added.rows).toBe(3001);
    // Held through the delta: upserting the added pair again changes nothing either.
    expect((await format.upsert(added.manifest, pairs([[5, 7], [6, 0]]))).manifest).toBe(added.manifest);
    // A pair the delta deleted is new again.
    const gone = await format.deleteKeys(added.manifest, pairs([[6, 0]]));
    const back = await format.upsert(gone.manifest, pairs([[6, 0]]));
    expect(back.manifest).not.toBe(gone.manifest);
    expect(back.rows).toBe(3001);
  });

  it('catalog: an upsert changing no row is unchanged, with no commit and no new version', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-noop-'));
    const { format, chunks } = await makeFormat({ targetChunkRows: 64 });
    const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'refs') }), format });
    try {
      await catalog.createRepo('r');
      await catalog.createTable('r', 't', { rows: customersTable(ids(1000).map((i) => customer(i))), primaryKey: ['id'] });
      const head = await catalog.resolve('r');
      for (const rows of [[{ id: 2n, name: 'name-2-v0' }], customersTable([customer(4n)]), []]) {
        const r = await catalog.upsert('r', 't', rows);
        expect(r).toMatchObject({ unchanged: true, version: 1, rows: 1000 });
        expect(r.commit.hash).toBe(head.hash);
      }
      expect((await catalog.resolve('r')).hash).toBe(head.hash);
      const changed = await catalog.upsert('r', 't', [{ id: 2n, name: 'renamed' }]);
      expect(changed).toMatchObject({ version: 2 });
      expect(changed.unchanged).toBeUndefined();
    } finally {
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
