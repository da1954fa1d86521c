// GC and verify see a keyed table's merge-on-read delta: its chunks and manifest pages are reachable.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { tempDir } from '@armillaria/testkit';
import { Catalog, FsRefStore, ParquetTableFormat, collectGarbage, jsonSafe, tableToRows, verifyStore } from '../src/index.js';

const DAY = 24 * 60 * 60 * 1000;
type Row = { id: number; v: string };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('gc and verify with deltas', () => {
  it('keep delta chunks and delta manifest pages alive, and report a missing delta chunk', async () => {
    const tmp = tempDir('armillaria-gc-delta');
    const dir = tmp.path;
    const objects = new FsObjectStore({ root: join(dir, 'objects') });
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const refs = new FsRefStore({ root: join(dir, 'refs') });
    // Tiny chunks, so both the base and the delta page their chunk lists.
    const format = new ParquetTableFormat({ chunks, targetChunkRows: 4 });
    const catalog = new Catalog({ chunks, refs, format });
    cleanups.push(async () => {
      await catalog.close();
      await refs.close();
      await objects.close();
      await tmp.cleanup();
    });
    await catalog.createRepo('r');
    const model = new Map<number, Row>();
    for (let i = 0; i < 7000; i++) model.set(i, { id: i, v: `a${i}` });
    // 1,202 delta rows: under the default limit (20% of 7,000 base rows), so no fold.
    await catalog.createTable('r', 't', { rows: [...model.values()], primaryKey: ['id'] });
    const changed = [...model.keys()].filter((id) => id % 5 === 1 && id < 6000).map((id) => ({ id, v: `b${id}` }));
    for (const r of changed) model.set(r.id, r);
    await catalog.upsert('r', 't', changed);
    await catalog.deleteRows('r', 't', [{ id: 3 }, { id: 4 }]);
    model.delete(3);
    model.delete(4);

    const tv = await catalog.tableVersion('r', 't');
    const m = await format.readManifest(tv.manifest);
    // Two runs (the upsert's, then the deletes'), the first paged: GC must walk every run.
    expect(m.delta?.runs?.length).toBe(2);
    const deltaPages = m.delta!.runs!.flatMap((r) => r.pages ?? []);
    expect(deltaPages.length).toBeGreaterThan(1);
    const layout = await format.layout(tv.manifest);
    const deltaHashes = layout.delta!.chunks.map((c) => c.hash);
    const all = await format.chunks(tv.manifest);
    expect(all.length).toBe(layout.base.length + deltaHashes.length);

    // A deleted branch whose version has its own delta: collected once its history expires.
    await catalog.createBranch('r', 'b');
    await catalog.upsert('r', 't', [{ id: 6500, v: 'only-on-b' }], { branch: 'b' });
    const onB = await format.layout((await catalog.tableVersion('r', 't', { ref: 'b' })).manifest);
    const mainHashes = new Set(deltaHashes);
    const bOnly = onB.delta!.chunks.map((c) => c.hash).filter((h) => !mainHashes.has(h));
    expect(bOnly.length).toBeGreaterThan(0);
    await catalog.deleteBranch('r', 'b');

    // Long after every grace period: whatever is unreachable goes, the live delta stays.
    const res = await collectGarbage(catalog, { now: Date.now() + 30 * DAY });
    expect(res.deleted.chunks).toBeGreaterThan(0);
    for (const h of bOnly) expect(await chunks.has(h), h).toBe(false);
    for (const h of [...deltaHashes, ...deltaPages.map((p) => p.hash)]) expect(await chunks.has(h), h).toBe(true);
    const rows = (jsonSafe(tableToRows(await catalog.read('r', 't'))) as Row[]).sort((a, b) => a.id - b.id);
    expect(rows).toEqual([...model.values()].sort((a, b) => a.id - b.id));
    expect((await verifyStore(catalog)).ok).toBe(true);

    // Verify walks the delta too: a lost delta chunk is reported and attributed to the table.
    const lost = deltaHashes[Math.floor(deltaHashes.length / 2)]!;
    await chunks.delete([lost]);
    const v = await verifyStore(catalog);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => p.hash)).toContain(lost);
  });
});
