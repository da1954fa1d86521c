// An upsert of rows the table holds changes nothing: no delta rows are written for them, and a write
// that changes no row at all is no new version (the catalog makes no commit).
import { describe, expect, it } from 'vitest';
import { Catalog, FsRefStore } from '../src/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
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
