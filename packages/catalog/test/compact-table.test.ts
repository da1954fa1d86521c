// Compaction (TableFormat.compact, Catalog.compactTable): the same rows laid out for reading. A keyed
// table's merge-on-read delta is folded; an unkeyed table's small appended chunks are merged in order.
import { afterAll, describe, expect, it } from 'vitest';
import { Int32, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { tempDir } from '@armillaria/testkit';
import { Catalog, FsRefStore } from '../src/index.js';
import { customer, customersTable, makeFormat, rowsOf } from './table-format-helpers.js';

const dir = tempDir('armillaria-compact');
afterAll(() => dir.cleanup());

const events = (n: number, from: number): Table => new Table({
  seq: vectorFromArray(Array.from({ length: n }, (_, i) => from + i), new Int32()),
  msg: vectorFromArray(Array.from({ length: n }, (_, i) => `event ${from + i}`), new Utf8()),
});

describe('TableFormat.compact of an unkeyed table', () => {
  it('merges runs of small appended chunks into target-size chunks, in order, and keeps large chunks', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    // A large first write (2 full chunks), 200 appends of 7 rows, one large append, 3 small ones.
    let m = (await format.write(events(128, 0))).manifest;
    let next = 128;
    for (let i = 0; i < 200; i++) (m = (await format.append(m, events(7, next))).manifest), (next += 7);
    m = (await format.append(m, events(100, next))).manifest;
    next += 100;
    for (let i = 0; i < 3; i++) (m = (await format.append(m, events(5, next))).manifest), (next += 5);
    const before = await format.chunks(m);
    expect(before).toHaveLength(2 + 200 + 2 + 3);

    const c = await format.compact(m);
    const after = await format.chunks(c.manifest);
    // The 1,400 appended rows become chunks of 64 (the last of each batch of 16 x 64 rows takes the
    // remainder); the 3 tail appends one chunk; both chunks of the first write and of the large append stay.
    expect(after.length).toBeLessThan(30);
    const kept = new Set(before.map((x) => x.hash));
    expect(after.filter((x) => kept.has(x.hash)).map((x) => x.rows)).toEqual([64, 64, 64, 36]);
    expect(after.every((x) => x.rows >= 32 || x === after.at(-1))).toBe(true);
    expect(c.rows).toBe(next);
    expect(rowsOf(await format.read(c.manifest))).toEqual(rowsOf(await format.read(m)));
    // Rows keep their positions: the row diff pairs them one to one.
    const d = await format.diffRows(m, c.manifest);
    expect([d.added.length, d.removed.length, d.changed.length]).toEqual([0, 0, 0]);
    // Compacting again finds nothing to merge.
    const again = await format.compact(c.manifest);
    expect(again).toMatchObject({ manifest: c.manifest, chunksWritten: 0 });
  });

  it('leaves a table with nothing to merge as it is', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const w = await format.write(events(300, 0));
    expect(await format.compact(w.manifest)).toMatchObject({ manifest: w.manifest, chunksWritten: 0 });
    const one = await format.append(w.manifest, events(3, 300));
    expect((await format.compact(one.manifest)).manifest).toBe(one.manifest);
  });
});

describe('Catalog.compactTable of a keyed table with a delta', () => {
  it('folds the delta into a new version equal to a fresh write of the rows; time travel keeps the old one', async () => {
    const { chunks, format } = await makeFormat({ targetChunkRows: 64 });
    const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: dir.path }), format });
    try {
      await catalog.createRepo('r');
      const ids = Array.from({ length: 1000 }, (_, i) => BigInt(i));
      await catalog.createTable('r', 'customers', { rows: customersTable(ids.map((i) => customer(i))), primaryKey: ['id'] });
      const up = await catalog.upsert('r', 'customers', customersTable([customer(5n, 1), customer(500n, 1), customer(995n, 1)]));
      expect((await format.readManifest(up.manifest!)).delta).toBeDefined();
      expect((await catalog.describeTable('r', 'customers')).pending).toEqual({ rows: 3, deletes: 0 });
      const r = await catalog.compactTable('r', 'customers');
      expect((await catalog.describeTable('r', 'customers')).pending).toBeUndefined();
      expect(r).toMatchObject({ version: 3, rows: 1000 });
      expect(r.commit.message).toBe('compact customers');
      expect((await format.readManifest(r.manifest!)).delta).toBeUndefined();
      const want = ids.map((i) => customer(i, [5n, 500n, 995n].includes(i) ? 1 : 0));
      expect(rowsOf(await catalog.read('r', 'customers'))).toEqual(rowsOf(customersTable(want)));
      expect(r.manifest).toBe((await format.write(customersTable(want), { primaryKey: ['id'] })).manifest);
      expect(rowsOf(await catalog.read('r', 'customers', { version: 2 }))).toEqual(rowsOf(customersTable(want)));
      const d = await catalog.diff('r', up.commit.hash, r.commit.hash, { rows: true });
      expect(d.tables[0]!.rows).toMatchObject({ added: [], removed: [], changed: [] });
      expect((await catalog.compactTable('r', 'customers')).unchanged).toBe(true);
    } finally {
      await catalog.close();
    }
  });
});
