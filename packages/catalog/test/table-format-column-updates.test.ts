// Column-level updates in merge-on-read deltas (formatVersion 3): a delta row whose key the base holds
// stores only the columns it changes; readers, diffs, folds and edits complete it from its base row.
import { describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN, parquetCodec } from '../src/index.js';
import { writeManifest } from '../src/table-format/manifest-io.js';
import { storeBlobs } from '../src/table-format/chunk-sink.js';
import type { Manifest } from '../src/index.js';
import { customer, customersTable, keysTable, makeFormat, plain, rowsOf, type Customer } from './table-format-helpers.js';

const ids = (n: number, step = 2) => Array.from({ length: n }, (_, i) => BigInt(i * step));
const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => ((a.id as bigint) < (b.id as bigint) ? -1 : 1);

describe('ParquetTableFormat: column-level updates', () => {
  it('stores only changed columns and reads, diffs, prunes and folds them as whole rows', async () => {
    const { format, chunks } = await makeFormat({ targetChunkRows: 64 });
    const rows = ids(4000).map((i) => customer(i));
    const base = await format.write(customersTable(rows), { primaryKey: ['id'] });
    // Scattered: names only (the base keeps score, ts, active), and one row changing everything.
    const renamed = ids(40, 200).map((i): Customer => ({ ...customer(i), name: `renamed-${i}` }));
    const whole: Customer = { ...customer(7998n, 3), score: 0.25, active: !customer(7998n).active };
    const u = await format.upsert(base.manifest, customersTable([...renamed, whole]));
    const m = await format.readManifest(u.manifest);
    expect(m.formatVersion).toBe(3);
    const layout = await format.layout(u.manifest);
    expect(layout.delta).toMatchObject({ unchangedColumn: DELTA_UNCHANGED_COLUMN, rows: 41 });
    // The delta's own rows: unchanged columns null, the mask names them; the whole-row update has no mask.
    const raw = (await Promise.all(layout.delta!.chunks.map(async (c) => rowsOf(tableFromIPC(await parquetCodec.decode(await chunks.get(c.hash))))))).flat();
    expect(raw.find((r) => r.id === 200n)).toEqual({ id: 200n, name: 'renamed-200', score: null, ts: null, active: null, [DELTA_UNCHANGED_COLUMN]: '00111', [DELTA_DELETED_COLUMN]: false });
    expect(raw.find((r) => r.id === 7998n)).toMatchObject({ ...plain(whole), [DELTA_UNCHANGED_COLUMN]: null });
    const model = new Map(rows.map((r) => [r.id, plain(r)]));
    for (const r of [...renamed, whole]) model.set(r.id, plain(r));
    const want = [...model.values()].sort(byId);
    expect(rowsOf(await format.read(u.manifest))).toEqual(want);
    expect(rowsOf(await format.read(u.manifest, { columns: ['score', 'name'] }))).toEqual(want.map((r) => ({ score: r.score, name: r.name })));
    // Pruning on a column the partial rows keep: their base rows' chunks are read even if pruned away.
    const inRange = (r: Record<string, unknown>) => typeof r.score === 'number' && r.score >= 250 && r.score <= 260;
    const pruned = rowsOf(await format.read(u.manifest, { columns: ['id', 'score', 'name'], range: { column: 'name', min: 'renamed-', max: 'renamed-~' } }));
    expect(pruned.filter((r) => String(r.name).startsWith('renamed-'))).toEqual(want.filter((r) => String(r.name).startsWith('renamed-')).map((r) => ({ id: r.id, score: r.score, name: r.name })));
    const byScore = rowsOf(await format.read(u.manifest, { range: { column: 'score', min: 250, max: 260 } }));
    expect(byScore.filter(inRange)).toEqual(want.filter(inRange));
    // Diffs give whole rows, equal to those of the compacted version (copy-on-write).
    const c = await format.compact(u.manifest);
    const d = await format.diffRows(base.manifest, u.manifest);
    expect(d).toEqual(await format.diffRows(base.manifest, c.manifest));
    expect(d.changed.find((x) => x.key[0] === 200n)).toEqual({ key: [200n], before: plain(customer(200n)), after: plain(renamed[1]!) });
    const scratch = await (await makeFormat({ targetChunkRows: 64 })).format.write(customersTable(want as never), { primaryKey: ['id'] });
    expect(c.manifest).toBe(scratch.manifest);
    // Later edits: a partial row updated again (score this time: the mask is relative to the base, so
    // the name change stays), deleted, and a tombstoned key re-inserted with some base values.
    const again = { ...renamed[2]!, score: 1.5 };
    const e1 = await format.upsert(u.manifest, customersTable([again]));
    const e2 = await format.deleteKeys(e1.manifest, keysTable([renamed[3]!.id, 2n]));
    const e3 = await format.append(e2.manifest, customersTable([customer(2n)]));
    model.set(again.id, plain(again));
    model.delete(renamed[3]!.id);
    const after = [...model.values()].sort(byId);
    expect(rowsOf(await format.read(e3.manifest))).toEqual(after);
    const c3 = await format.compact(e3.manifest);
    expect(rowsOf(await format.read(c3.manifest))).toEqual(after);
    expect(await format.diffRows(u.manifest, e3.manifest)).toEqual(await format.diffRows(c.manifest, c3.manifest));
    // A change past the delta limit folds: partial rows are completed before they replace base rows.
    const many = ids(1000, 4).map((i): Customer => ({ ...customer(i), active: !customer(i).active }));
    const f = await format.upsert(e3.manifest, customersTable(many));
    expect((await format.readManifest(f.manifest)).delta).toBeUndefined();
    for (const r of many) model.set(r.id, plain(r));
    expect(rowsOf(await format.read(f.manifest))).toEqual([...model.values()].sort(byId));
  });

  it('refuses a delta whose partial rows have no base row with CORRUPT_METADATA', async () => {
    const { format, chunks, hasher } = await makeFormat({ targetChunkRows: 64 });
    const even = await format.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    const u = await format.upsert(even.manifest, customersTable(ids(20, 100).map((i): Customer => ({ ...customer(i), name: 'x' }))));
    const m = await format.readManifest(u.manifest);
    // The same delta over another base: odd keys only, so no partial row finds its base row.
    const odd = await format.write(customersTable(ids(2000).map((i) => customer(i + 1n))), { primaryKey: ['id'] });
    const meta: Omit<Manifest, 'chunks' | 'pages' | 'rows' | 'bytes' | 'formatVersion' | 'delta'> = { schema: m.schema, primaryKey: m.primaryKey!, targetChunkRows: m.targetChunkRows! };
    const bad = (await writeManifest({ chunks, hasher }, meta, (await format.layout(odd.manifest)).base, { runs: [{ list: (await format.layout(u.manifest)).delta!.chunks, deletes: 0 }], rows: 2000, partial: true })).manifest;
    for (const op of [() => format.read(bad), () => format.diffRows(odd.manifest, bad), () => format.compact(bad)]) {
      await expect(op()).rejects.toMatchObject({ code: 'CORRUPT_METADATA' });
    }
  });

  it('stores rewritten rows whole: masks only when the updated rows keep enough base values', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const base = await format.write(customersTable(ids(4000).map((i) => customer(i))), { primaryKey: ['id'] });
    // Every non-key column rewritten; `active` happens to keep its value in about half of the rows.
    const rewritten = ids(200, 40).map((i, k): Customer => ({ id: i, name: `n${k}`, score: k + 0.5, ts: k, active: k % 2 === 0 }));
    const u = await format.upsert(base.manifest, customersTable(rewritten));
    const layout = await format.layout(u.manifest);
    expect(layout.delta!.chunks.every((c) => c.stats[DELTA_UNCHANGED_COLUMN]!.nullCount === c.rows)).toBe(true);
    expect(layout.delta!.chunks.reduce((s, c) => s + c.stats.active!.nullCount, 0)).toBe(0);
    const want = new Map(ids(4000).map((i) => [i, plain(customer(i))]));
    for (const r of rewritten) want.set(r.id, plain(r));
    expect(rowsOf(await format.read(u.manifest))).toEqual([...want.values()].sort(byId));
  });

  it('keeps the sign of a zero the update wrote over a base 0', async () => {
    const { format } = await makeFormat({ targetChunkRows: 64 });
    const rows = ids(2000).map((i): Customer => ({ ...customer(i), score: 0 }));
    const base = await format.write(customersTable(rows), { primaryKey: ['id'] });
    const upd = ids(20, 100).map((i): Customer => ({ ...customer(i), name: `z${i}`, score: -0 }));
    const u = await format.upsert(base.manifest, customersTable(upd));
    expect((await format.layout(u.manifest)).delta!.unchangedColumn).toBeDefined();
    const got = rowsOf(await format.read(u.manifest, { columns: ['id', 'score'] })).filter((r) => upd.some((x) => x.id === r.id));
    expect(got.map((r) => Object.is(r.score, -0))).toEqual(upd.map(() => true));
  });

  it('reserves the mask column name', async () => {
    const { format } = await makeFormat();
    const { Table, vectorFromArray, Utf8 } = await import('apache-arrow');
    const t = new Table({ [DELTA_UNCHANGED_COLUMN]: vectorFromArray(['x'], new Utf8()) });
    await expect(format.write(t)).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });

  it('keeps editing and reading a formatVersion-2 delta (whole rows) as version 2', async () => {
    const { format, chunks, hasher } = await makeFormat({ targetChunkRows: 64 });
    const base = await format.write(customersTable(ids(2000).map((i) => customer(i))), { primaryKey: ['id'] });
    // A version-3 delta of whole rows (every non-key column changes), rewritten as a version-2 one: its
    // chunks without the mask column.
    const v3 = await format.upsert(base.manifest, customersTable(ids(20, 100).map((i) => ({ ...customer(i, 1), score: 0.5, active: !customer(i).active }))));
    const m3 = await format.readManifest(v3.manifest);
    const layout = await format.layout(v3.manifest);
    const v2list = await Promise.all(layout.delta!.chunks.map(async (c) => {
      const names = [...m3.schema.fields.map((x) => x.name), DELTA_DELETED_COLUMN];
      const ipc = await parquetCodec.decode(await chunks.get(c.hash), names);
      const [enc] = await parquetCodec.buildChunks([ipc], null, Uint32Array.of(c.rows), { layout: 'delta' });
      const stored = await storeBlobs(chunks, hasher, [enc!.bytes]);
      return { ...c, hash: stored.hashes[0]!, bytes: enc!.bytes.byteLength };
    }));
    const meta: Omit<Manifest, 'chunks' | 'pages' | 'rows' | 'bytes' | 'formatVersion' | 'delta'> = { schema: m3.schema, primaryKey: m3.primaryKey!, targetChunkRows: m3.targetChunkRows! };
    const v2 = (await writeManifest({ chunks, hasher }, meta, layout.base, { runs: [{ list: v2list, deletes: 0 }], rows: m3.rows, partial: false })).manifest;
    expect((await format.readManifest(v2)).formatVersion).toBe(2);
    expect((await format.layout(v2)).delta!.unchangedColumn).toBeUndefined();
    expect(rowsOf(await format.read(v2))).toEqual(rowsOf(await format.read(v3.manifest)));
    // A name-only update of a v2 delta stays whole-row and version 2; reads and compaction agree.
    const edit = customersTable([{ ...customer(300n), name: 'only-name' }]);
    const e2 = await format.upsert(v2, edit);
    const e3 = await format.upsert(v3.manifest, edit);
    expect((await format.readManifest(e2.manifest)).formatVersion).toBe(2);
    expect(rowsOf(await format.read(e2.manifest))).toEqual(rowsOf(await format.read(e3.manifest)));
    expect((await format.compact(e2.manifest)).manifest).toBe((await format.compact(e3.manifest)).manifest);
  });
});
