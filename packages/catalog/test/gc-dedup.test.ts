/**
 * GC against a writer whose chunks deduplicate onto old, unreachable ones (a table dropped long ago, the
 * same rows written again today): the writer uploads nothing, GC runs before the writer commits, and the
 * new commit must still be readable. Real GC runs on local disk and on MinIO.
 */
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, type Hash } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectInfo, type ObjectStore } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, hasService, needsServices, s3TestConfig, tempDir } from '@armillaria/testkit';
import { Catalog, FsRefStore, ParquetTableFormat, collectGarbage, jsonSafe, schemaFromSpec, tableToRows, toArrowTable, verifyStore } from '../src/index.js';

const DAY = 24 * 60 * 60 * 1000;
const SCHEMA = { fields: [{ name: 'id', type: 'int32' as const }, { name: 'v', type: 'utf8' as const }] };
const ROWS = Array.from({ length: 500 }, (_, i) => ({ id: i, v: `row ${i}` }));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function open(objects: ObjectStore, refreshAfterMs?: number): Promise<{ catalog: Catalog; chunks: ObjectChunkStore }> {
  const tmp = tempDir('armillaria-gc-dedup');
  const dir = tmp.path;
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher(), ...(refreshAfterMs !== undefined && { refreshAfterMs }) });
  const refs = new FsRefStore({ root: join(dir, 'refs') });
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  cleanups.push(async () => {
    await catalog.close();
    await refs.close();
    await tmp.cleanup();
  });
  return { catalog, chunks };
}

/** Writes ROWS on a branch, then deletes the branch: the table's objects become unreachable. Returns them. */
async function abandonedTable(catalog: Catalog): Promise<Hash[]> {
  await catalog.createRepo('r');
  await catalog.createTable('r', 'keep', { schema: SCHEMA, rows: [{ id: -1, v: 'live' }] });
  await catalog.createBranch('r', 'old');
  await catalog.createTable('r', 'dropped', { schema: SCHEMA, rows: ROWS, branch: 'old' });
  const tv = await catalog.tableVersion('r', 'dropped', { ref: 'old' });
  const objects = [tv.manifest, ...(await catalog.format.chunks(tv.manifest)).map((c) => c.hash)];
  await catalog.deleteBranch('r', 'old');
  return objects;
}

/** The in-flight writer's first half: writes ROWS again; every chunk and the manifest deduplicate. */
async function rewrite(catalog: Catalog, old: readonly Hash[]): Promise<Hash> {
  const written = await catalog.format.write(toArrowTable(ROWS, schemaFromSpec(SCHEMA)), {});
  expect(written.manifest).toBe(old[0]); // same rows, same bytes: nothing new was uploaded
  return written.manifest;
}

/** Its second half, after GC ran: commits the manifest, reads the table back, verifies the store. */
async function commitAndCheck(catalog: Catalog, manifest: Hash): Promise<void> {
  const head = await catalog.resolve('r', 'main');
  const tables = (await catalog.readTree('r', head.tree)).tables;
  await catalog.commitTree('r', 'main', { baseCommit: head.hash, tree: { tables: { ...tables, again: { manifest, version: 1 } } }, message: 'again' });
  const back = (jsonSafe(tableToRows(await catalog.read('r', 'again'))) as typeof ROWS).sort((a, b) => a.id - b.id);
  expect(back).toEqual(ROWS);
  const check = await verifyStore(catalog);
  expect(check.problems).toEqual([]);
  expect(check.ok).toBe(true);
}

/** Runs `onListed` once, after a listing of chunks has been read to its end: GC's sweep, before its delete. */
class SweepHookStore extends FsObjectStore {
  onListed: (() => Promise<void>) | undefined;
  chunkListings = 0;
  override async *list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    if (prefix === 'objects/') this.chunkListings++;
    yield* super.list(prefix, opts);
    const hook = prefix === 'objects/' ? this.onListed : undefined;
    this.onListed = undefined;
    await hook?.();
  }
}

/** Everything written so far becomes two days old (fs mtimes can be set back; S3's cannot). */
async function ageAll(dir: string, old: readonly Hash[]): Promise<void> {
  const longAgo = new Date(Date.now() - 2 * DAY);
  const files = (await readdir(join(dir, 'objects'), { withFileTypes: true, recursive: true })).filter((e) => e.isFile());
  for (const f of files) await utimes(join(f.parentPath, f.name), longAgo, longAgo);
  expect(files.length).toBeGreaterThan(old.length);
}

describe('gc vs a deduplicating writer', () => {
  it('local disk: chunks of a table dropped days ago, written again, survive a gc that runs before the commit', async () => {
    const tmp = tempDir('armillaria-gc-dedup-objects');
    const dir = tmp.path;
    const objects = new FsObjectStore({ root: dir });
    cleanups.push(() => tmp.cleanup());
    const { catalog } = await open(objects); // the default refresh threshold
    const old = await abandonedTable(catalog);
    await ageAll(dir, old);
    const manifest = await rewrite(catalog, old);
    const res = await collectGarbage(catalog, { retainHistoryMs: 0, graceMs: DAY });
    // GC did run for real: the deleted branch's commit and tree were old and unreachable too.
    expect(res.garbage.chunks).toBeGreaterThan(0);
    await commitAndCheck(catalog, manifest);
  });

  // The sweep re-reads the times of a delete batch by listing its hash range again (dense garbage) or by
  // one stat per chunk (sparse garbage: many young chunks listed around few old ones).
  for (const [mode, orphans, listings] of [['a re-list', 0, 2], ['stats', 3000, 1]] as const) it(`local disk: a writer that deduplicates after the sweep listed the old chunks, before it deletes them, keeps them (${mode})`, async () => {
    const tmp = tempDir('armillaria-gc-dedup-objects');
    const dir = tmp.path;
    const objects = new SweepHookStore({ root: dir });
    cleanups.push(() => tmp.cleanup());
    const { catalog, chunks } = await open(objects);
    const old = await abandonedTable(catalog);
    await ageAll(dir, old);
    await chunks.putBatch(Array.from({ length: orphans }, (_, i) => new TextEncoder().encode(`young orphan ${i}`)));
    let manifest: Hash | undefined;
    // The write happens inside the sweep: after the listing saw the old chunks as garbage, before the delete.
    objects.onListed = async () => {
      manifest = await rewrite(catalog, old);
    };
    const res = await collectGarbage(catalog, { retainHistoryMs: 0, graceMs: DAY });
    expect(manifest).toBe(old[0]);
    expect(res.garbage.chunks).toBeGreaterThan(0);
    expect(res.young.chunks).toBeGreaterThanOrEqual(old.length + orphans);
    expect(objects.chunkListings).toBe(listings);
    await commitAndCheck(catalog, manifest!);
  });

  it.skipIf(!hasService('s3'))(`MinIO: the same, with ages measured by S3 LastModified ${needsServices('s3')}`, async () => {
    const bucket = await createTestBucket('gc-dedup');
    const s3 = s3TestConfig();
    const objects = new S3ObjectStore({ endpoint: s3.endpoint, region: s3.region, bucket, forcePathStyle: true, ...s3.credentials });
    cleanups.push(async () => {
      await objects.close();
      await deleteTestBucket(bucket);
    });
    // S3 cannot backdate an object, so the clock is scaled down: refresh after 1 s, grace 1.5 s.
    const { catalog } = await open(objects, 1000);
    const old = await abandonedTable(catalog);
    await sleep(2500);
    const writeStart = Date.now();
    const manifest = await rewrite(catalog, old);
    // Grace measured back from the write: the old objects (>= 2.5 s older) are past it, anything the
    // write renewed (LastModified >= writeStart - 1 s, S3 rounds down to seconds) is not.
    const res = await collectGarbage(catalog, { retainHistoryMs: 0, graceMs: 1500, now: writeStart });
    expect(res.garbage.chunks).toBeGreaterThan(0);
    await commitAndCheck(catalog, manifest);
  });
});
