import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkKey, type Hash } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, collectGarbage, verifyStore, type VerifyProblem } from '../src/index.js';

const SCHEMA = { fields: [{ name: 'id', type: 'int32' as const }, { name: 'v', type: 'utf8' as const }] };

let dir: string;
let objectsDir: string;
let catalog: Catalog;
let chunks: ObjectChunkStore;
let refs: FsRefStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-verify-'));
  objectsDir = join(dir, 'objects');
  chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: objectsDir }), hasher: await loadHasher() });
  refs = new FsRefStore({ root: join(dir, 'refs') });
  catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
});

afterEach(async () => {
  await catalog.close();
  await refs.close();
  await chunks.close();
  await rm(dir, { recursive: true, force: true });
});

/** The chunk's file on disk (the fs backend's layout). */
const fileOf = (hash: Hash): string => join(objectsDir, chunkKey(hash, 'objects'));

async function dataChunks(repo: string, table: string): Promise<Hash[]> {
  const tv = await catalog.tableVersion(repo, table);
  return (await catalog.format.chunks(tv.manifest)).map((c) => c.hash);
}

const rows = (tag: string, n = 5) => Array.from({ length: n }, (_, i) => ({ id: i, v: `${tag}-${i}` }));

function byHash(problems: VerifyProblem[], hash: Hash): VerifyProblem {
  const p = problems.find((x) => x.hash === hash);
  if (!p) throw new Error(`no problem reported for ${hash}: ${JSON.stringify(problems)}`);
  return p;
}

describe('verifyStore', () => {
  it('passes on an intact store after re-hashing every reachable chunk', async () => {
    await catalog.createRepo('r');
    await catalog.createTable('r', 'a', { schema: SCHEMA, rows: rows('a') });
    await catalog.append('r', 'a', rows('a2'));
    const seen: number[] = [];
    const res = await verifyStore(catalog, { onProgress: (p) => seen.push(p.chunksVerified) });
    expect(res).toMatchObject({ ok: true, repos: ['r'], problems: [] });
    expect(res.chunks).toBe(2);
    expect(res.bytes).toBeGreaterThan(0);
    // 3 commits, 3 trees, 2 manifests, 2 data chunks, the repo config.
    expect(res.objects).toBe(11);
    expect(seen.at(-1)).toBe(2);
    // One chunk per batch (byte bound): the same answer.
    expect(await verifyStore(catalog, { batchBytes: 1 })).toMatchObject({ ok: true, chunks: 2, objects: 11 });
  });

  it('detects a flipped byte, a truncated chunk and a missing chunk, naming the tables and commits that need them', async () => {
    await catalog.createRepo('r');
    const created = await catalog.createTable('r', 'a', { schema: SCHEMA, rows: rows('a') });
    await catalog.createTable('r', 'b', { schema: SCHEMA, rows: rows('b') });
    await catalog.createTable('r', 'c', { schema: SCHEMA, rows: rows('c') });
    // Same rows, same schema: the same data chunk, shared by two tables.
    await catalog.createTable('r', 'same-as-a', { schema: SCHEMA, rows: rows('a') });
    const head = (await catalog.resolve('r')).hash;
    const [a] = await dataChunks('r', 'a');
    const [b] = await dataChunks('r', 'b');
    const [c] = await dataChunks('r', 'c');
    expect((await dataChunks('r', 'same-as-a'))[0]).toBe(a);

    const flipped = await readFile(fileOf(a!));
    flipped[flipped.length >> 1] ^= 0x01;
    await writeFile(fileOf(a!), flipped);
    const size = (await readFile(fileOf(b!))).byteLength;
    await truncate(fileOf(b!), size - 7);
    await chunks.delete([c!]);

    const res = await verifyStore(catalog);
    expect(res.ok).toBe(false);
    expect(res.problems).toHaveLength(3);

    const pa = byHash(res.problems, a!);
    expect(pa).toMatchObject({ kind: 'corrupt', object: 'chunk' });
    expect(pa.needs).toContainEqual({ repo: 'r', commit: head, table: 'a' });
    expect(pa.needs).toContainEqual({ repo: 'r', commit: head, table: 'same-as-a' });
    expect(pa.needs).toContainEqual({ repo: 'r', commit: created.commit.hash, table: 'a' });

    const pb = byHash(res.problems, b!);
    expect(pb).toMatchObject({ kind: 'corrupt', object: 'chunk' });
    expect(pb.needs).toContainEqual({ repo: 'r', commit: head, table: 'b' });
    expect(pb.needs.every((n) => n.table === 'b')).toBe(true);

    const pc = byHash(res.problems, c!);
    expect(pc).toMatchObject({ kind: 'missing', object: 'chunk' });
    expect(pc.needs).toContainEqual({ repo: 'r', commit: head, table: 'c' });
    expect(pc.message).toContain(c);

    // GC will not sweep a store whose reachable data is broken? Data chunks are not read by GC, so it
    // runs; but it never deletes what is reachable, so verify reports the same afterwards.
    await collectGarbage(catalog, { graceMs: 0, now: Date.now() + 1000 });
    expect((await verifyStore(catalog)).problems.map((p) => p.hash).sort()).toEqual([a, b, c].sort());
  });

  it('reads what GC keeps of a branch deleted inside the retention window, and nothing past it', async () => {
    await catalog.createRepo('r');
    await catalog.createTable('r', 'live', { schema: SCHEMA, rows: rows('live') });
    await catalog.createBranch('r', 'scratch');
    await catalog.createTable('r', 'tmp', { schema: SCHEMA, rows: rows('tmp'), branch: 'scratch' });
    const onScratch = await catalog.tableVersion('r', 'tmp', { ref: 'scratch' });
    const [chunk] = (await catalog.format.chunks(onScratch.manifest)).map((c) => c.hash);
    await catalog.deleteBranch('r', 'scratch');
    const flipped = await readFile(fileOf(chunk!));
    flipped[flipped.length >> 1] ^= 0x01;
    await writeFile(fileOf(chunk!), flipped);

    // No ref or reflog names the deleted branch's commit (no GC run recorded its name), yet GC keeps it
    // for the window: verify reads it too, and says which commit needs the chunk.
    const res = await verifyStore(catalog);
    expect(res.ok).toBe(false);
    expect(byHash(res.problems, chunk!)).toMatchObject({ kind: 'corrupt', object: 'chunk' });
    expect(byHash(res.problems, chunk!).needs).toContainEqual({ repo: 'r', commit: onScratch.commit, table: 'tmp' });
    const kept = await collectGarbage(catalog, { graceMs: 0 });
    expect(kept.deleted.chunks).toBe(0);
    // Past the window neither keeps it: GC deletes it, and verify no longer reads it.
    expect((await verifyStore(catalog, { retainHistoryMs: 0, now: Date.now() + 1000 })).ok).toBe(true);
  });

  it('reports corrupt metadata and a missing commit with the commits that need them', async () => {
    await catalog.createRepo('r');
    const first = await catalog.createTable('r', 't', { schema: SCHEMA, rows: rows('t') });
    const second = await catalog.append('r', 't', rows('u'));
    await catalog.append('r', 't', rows('w'));
    // A manifest whose bytes no longer match their hash.
    await writeFile(fileOf(second.manifest!), '{"not":"the manifest"}');
    // The first commit's chunk lost.
    await chunks.delete([first.commit.hash]);

    const res = await verifyStore(catalog);
    expect(res.ok).toBe(false);
    const pm = byHash(res.problems, second.manifest!);
    expect(pm).toMatchObject({ kind: 'corrupt', object: 'manifest' });
    expect(pm.needs).toContainEqual({ repo: 'r', commit: second.commit.hash, table: 't' });
    const pcommit = byHash(res.problems, first.commit.hash);
    expect(pcommit).toMatchObject({ kind: 'missing', object: 'commit' });
    expect(pcommit.needs).toContainEqual({ repo: 'r', commit: second.commit.hash });
  });

  it('verifies one repo, and rejects bad arguments with typed errors', async () => {
    await catalog.createRepo('r1');
    await catalog.createRepo('r2');
    const t = await catalog.createTable('r2', 't', { schema: SCHEMA, rows: rows('t') });
    await chunks.delete([t.manifest!]);
    expect((await verifyStore(catalog, { repo: 'r1' })).ok).toBe(true);
    const bad = await verifyStore(catalog, { repo: 'r2' });
    expect(bad.ok).toBe(false);
    expect(bad.problems[0]).toMatchObject({ kind: 'missing', object: 'manifest', hash: t.manifest, needs: [{ repo: 'r2', commit: t.commit.hash, table: 't' }] });
    await expect(verifyStore(catalog, { repo: 'nope' })).rejects.toMatchObject({ code: 'REPO_NOT_FOUND' });
    await expect(verifyStore(catalog, { repo: '../x' })).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(verifyStore(catalog, { batchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(verifyStore(catalog, { retainHistoryMs: -5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
