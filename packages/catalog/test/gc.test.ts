import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArmillariaError, type Hash } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectStore } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, s3TestConfig } from '@armillaria/testkit';
import {
  Catalog, FsRefStore, HashSet, ObjectStoreGcState, ParquetTableFormat, buildApp, collectGarbage, jsonSafe, pendingTxnRoots,
  schemaFromSpec, tableToRows, toArrowTable, verifyStore, type GcResult, type PendingTxnRecord,
} from '../src/index.js';

const ITERATIONS = Number(process.env.ARMILLARIA_GC_ITERATIONS ?? 6);
const DAY = 24 * 60 * 60 * 1000;
const SCHEMA = { fields: [{ name: 'id', type: 'int32' as const }, { name: 'v', type: 'utf8' as const }] };
type Row = { id: number; v: string };

interface Env {
  catalog: Catalog;
  chunks: ObjectChunkStore;
  objects: ObjectStore;
  /** Chunk files on disk (fs backend only). */
  diskChunks?: () => Promise<number>;
  cleanup(): Promise<void>;
}

async function fsEnv(): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-gc-'));
  const objects = new FsObjectStore({ root: join(dir, 'objects') });
  return assemble(objects, dir, async () => rm(dir, { recursive: true, force: true }), () => countFiles(join(dir, 'objects', 'objects')));
}

async function s3Env(): Promise<Env> {
  const bucket = await createTestBucket('gc');
  const s3 = s3TestConfig();
  const objects = new S3ObjectStore({
    endpoint: s3.endpoint, region: s3.region, bucket, forcePathStyle: true,
    accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey,
  });
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-gc-refs-'));
  return assemble(objects, dir, async () => {
    await deleteTestBucket(bucket);
    await rm(dir, { recursive: true, force: true });
  });
}

async function assemble(objects: ObjectStore, dir: string, remove: () => Promise<void>, diskChunks?: () => Promise<number>): Promise<Env> {
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
  const refs = new FsRefStore({ root: join(dir, 'refs') });
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  const env: Env = { catalog, chunks, objects, cleanup: async () => { await catalog.close(); await refs.close(); await objects.close(); await remove(); } };
  if (diskChunks) env.diskChunks = diskChunks;
  return env;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

async function countChunks(chunks: ObjectChunkStore): Promise<number> {
  let n = 0;
  for await (const _ of chunks.list()) n++;
  return n;
}

function rowsOf(t: import('apache-arrow').Table): Row[] {
  return (jsonSafe(tableToRows(t)) as Row[]).sort((a, b) => a.id - b.id);
}

const sorted = (rows: readonly Row[]): Row[] => [...rows].sort((a, b) => a.id - b.id);

/** Data chunks (and manifest) of a table as of a ref: what must disappear once that ref's history expires. */
async function tableObjects(catalog: Catalog, repo: string, table: string, ref: string): Promise<Hash[]> {
  const tv = await catalog.tableVersion(repo, table, { ref });
  return [tv.manifest, ...(await catalog.format.chunks(tv.manifest)).map((c) => c.hash)];
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function env(make: () => Promise<Env>): Promise<Env> {
  const e = await make();
  cleanups.push(() => e.cleanup());
  return e;
}

describe('HashSet (the mark set)', () => {
  it('holds 32-byte hashes compactly, grows, round-trips and rejects non-hashes', () => {
    const set = new HashSet(4);
    const hashes = Array.from({ length: 5000 }, (_, i) => (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(8));
    const unique = new Set(hashes);
    let added = 0;
    for (const h of hashes) if (set.add(h)) added++;
    expect(added).toBe(unique.size);
    expect(set.size).toBe(unique.size);
    for (const h of unique) expect(set.has(h)).toBe(true);
    expect(set.has('f'.repeat(64))).toBe(unique.has('f'.repeat(64)));
    const copy = HashSet.fromBytes(set.toBytes());
    expect(copy.size).toBe(set.size);
    for (const h of unique) expect(copy.has(h)).toBe(true);
    expect(() => set.add('XYZ')).toThrow(expect.objectContaining({ code: 'INVALID_HASH' }));
    expect(() => HashSet.fromBytes(new Uint8Array(33))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('gc: retention, grace, dry run, live roots, resume (local disk)', () => {
  it('collects expired unreachable history, keeps young history and deleted-branch commits during the window', async () => {
    const { catalog, chunks, diskChunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    await catalog.append('r', 't', [{ id: 2, v: 'b' }]);
    await catalog.createBranch('r', 'feature');
    const f = await catalog.append('r', 't', [{ id: 3, v: 'only-on-feature' }], { branch: 'feature' });
    const featureObjects = await tableObjects(catalog, 'r', 't', 'feature');
    await catalog.deleteBranch('r', 'feature');
    const orphan = await chunks.put(new TextEncoder().encode('an upload nobody committed'));
    const mainHead = (await catalog.resolve('r')).hash;

    // Grace: the orphan is younger than the default hour, the deleted branch is inside the 7-day window.
    let res = await collectGarbage(catalog);
    expect(res.deleted.chunks).toBe(0);
    expect(res.young.chunks).toBe(1);
    expect(await chunks.has(orphan)).toBe(true);

    // A day later: orphan past grace is gone; the deleted branch's commit is still young history.
    res = await collectGarbage(catalog, { now: Date.now() + DAY });
    expect(res.deleted.chunks).toBe(1);
    expect(await chunks.has(orphan)).toBe(false);
    for (const h of featureObjects) expect(await chunks.has(h)).toBe(true);
    expect((await catalog.readCommit('r', f.commit.hash)).hash).toBe(f.commit.hash);

    // A per-repo policy longer than the age keeps it too.
    res = await collectGarbage(catalog, { now: Date.now() + 8 * DAY, repoRetention: { r: { retainHistoryMs: 30 * DAY } } });
    expect(res.deleted.chunks).toBe(0);

    // Eight days later with the default policy: the deleted branch's history expires, main stays whole.
    const before = await diskChunks!();
    res = await collectGarbage(catalog, { now: Date.now() + 8 * DAY });
    const mainObjects = new Set(await tableObjects(catalog, 'r', 't', 'main'));
    expect(res.deleted.chunks).toBeGreaterThanOrEqual(3); // commit, tree, manifest (+ new data chunk)
    expect(await diskChunks!()).toBe(before - res.deleted.chunks);
    expect(await chunks.has(f.commit.hash)).toBe(false);
    expect(await chunks.has(f.manifest!)).toBe(false);
    // Chunks the feature version shared with main stay (shared while any reference remains); its own are gone.
    expect(featureObjects.some((h) => mainObjects.has(h))).toBe(true);
    for (const h of featureObjects) expect(await chunks.has(h), h).toBe(mainObjects.has(h));
    await expect(catalog.readCommit('r', f.commit.hash)).rejects.toMatchObject({ code: 'COMMIT_NOT_FOUND' });
    // Its commit-index entry went with it, so prefix lookups never name a deleted commit.
    expect(res.commitIndexRemoved).toBe(1);
    await expect(catalog.resolve('r', f.commit.hash.slice(0, 12))).rejects.toBeInstanceOf(ArmillariaError);
    expect(rowsOf(await catalog.read('r', 't'))).toEqual([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]);
    expect(rowsOf(await catalog.read('r', 't', { version: 1 }))).toEqual([{ id: 1, v: 'a' }]);
    expect((await catalog.resolve('r')).hash).toBe(mainHead);
    expect((await verifyStore(catalog)).ok).toBe(true);
  });

  it('keeps a branch deleted inside the window even when its commits are older than the window', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    await catalog.createBranch('r', 'old');
    const old = await catalog.write('r', 't', [{ id: 2, v: 'old branch' }], { branch: 'old' });
    await new Promise((r) => setTimeout(r, 300));
    // A run while the branch exists remembers its name (gc/known-refs.json).
    await collectGarbage(catalog, { graceMs: 0 });
    await catalog.deleteBranch('r', 'old');
    const deletedAt = Date.now();
    // Window of 150 ms: the deletion is inside it, the branch's commit (300 ms older) is not.
    let res = await collectGarbage(catalog, { graceMs: 0, retainHistoryMs: 150, now: deletedAt + 100 });
    expect(res.deleted.chunks).toBe(0);
    expect(await chunks.has(old.commit.hash)).toBe(true);
    // Once the deletion leaves the window, the branch's own objects go.
    res = await collectGarbage(catalog, { graceMs: 0, retainHistoryMs: 150, now: deletedAt + 1000 });
    expect(res.deleted.chunks).toBeGreaterThanOrEqual(3);
    expect(await chunks.has(old.commit.hash)).toBe(false);
    expect(await chunks.has(old.manifest!)).toBe(false);
    expect(rowsOf(await catalog.read('r', 't'))).toEqual([{ id: 1, v: 'a' }]);
  });

  it('keeps history reachable from tags and reflog positions inside the window', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'x' }] });
    await catalog.createBranch('r', 'tagged');
    const tagged = await catalog.write('r', 't', [{ id: 9, v: 'tagged' }], { branch: 'tagged' });
    await catalog.createTag('r', 'v1', { ref: 'tagged' });
    await catalog.deleteBranch('r', 'tagged');
    const res = await collectGarbage(catalog, { now: Date.now() + 100 * DAY });
    expect(res.deleted.chunks).toBe(0);
    expect(await chunks.has(tagged.commit.hash)).toBe(true);
    expect(rowsOf(await catalog.read('r', 't', { ref: 'v1' }))).toEqual([{ id: 9, v: 'tagged' }]);
  });

  it('dry run reports counts and bytes and deletes nothing', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    const junk = await chunks.putBatch(Array.from({ length: 7 }, (_, i) => new TextEncoder().encode(`junk ${i}`)));
    const total = await countChunks(chunks);
    const progress: string[] = [];
    const res = await collectGarbage(catalog, { dryRun: true, graceMs: 0, now: Date.now() + 1000, onProgress: (p) => progress.push(p.phase) });
    expect(res.dryRun).toBe(true);
    expect(res.garbage.chunks).toBe(7);
    expect(res.garbage.bytes).toBe(junk.length * 'junk 0'.length);
    expect(res.deleted.chunks).toBe(0);
    expect(res.live.chunks + res.garbage.chunks + res.young.chunks).toBe(total);
    expect(await countChunks(chunks)).toBe(total);
    for (const h of junk) expect(await chunks.has(h)).toBe(true);
    expect(progress).toContain('mark');
    expect(progress).toContain('sweep');
    expect(progress.at(-1)).toBe('done');
  });

  it('warns when the grace period is shorter than the chunk store\'s dedup refresh (never on a dry run)', async () => {
    const { catalog } = await env(fsEnv);
    await catalog.createRepo('r');
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push({ code: w.code, message: w.message });
    process.on('warning', onWarning);
    try {
      await collectGarbage(catalog, { dryRun: true, graceMs: 0 });
      await collectGarbage(catalog, { graceMs: 10 * 60 * 1000 });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.code === 'ARMILLARIA_GC_GRACE')).toEqual([]);
      await collectGarbage(catalog, { graceMs: 1000 });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.code === 'ARMILLARIA_GC_GRACE')).toEqual([{ code: 'ARMILLARIA_GC_GRACE', message: expect.stringContaining('graceMs 1000 is shorter than the chunk store\'s refreshAfterMs 600000') }]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('live roots (pending transaction records) protect staged manifests past the grace period', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    const rows: Row[] = [{ id: 5, v: 'staged' }, { id: 6, v: 'by a long txn' }];
    const staged = await catalog.format.write(toArrowTable(rows, schemaFromSpec(SCHEMA)), {});
    const base = (await catalog.resolve('r')).hash;
    const records: PendingTxnRecord[] = [{ id: 'txn-1', base, tree: { tables: { s: { manifest: staged.manifest } } } }];
    const roots = [pendingTxnRoots({ pending: async () => records })];

    const res = await collectGarbage(catalog, { graceMs: 0, now: Date.now() + 1000, roots });
    expect(res.deleted.chunks).toBe(0);
    for (const h of [staged.manifest, ...(await catalog.format.chunks(staged.manifest)).map((c) => c.hash)]) expect(await chunks.has(h)).toBe(true);

    // The transaction commits; its data is now reachable from the branch and survives without the root.
    await catalog.commitTree('r', 'main', { baseCommit: base, tree: { tables: { ...(await catalog.readTree('r', (await catalog.resolve('r')).tree)).tables, s: { manifest: staged.manifest, version: 1 } } } });
    records.length = 0;
    await collectGarbage(catalog, { graceMs: 0, now: Date.now() + 1000, roots });
    expect(rowsOf(await catalog.read('r', 's'))).toEqual(rows);

    // Without a root and past grace, an uncommitted upload is collected.
    const lost = await catalog.format.write(toArrowTable([{ id: 7, v: 'abandoned' }], schemaFromSpec(SCHEMA)), {});
    await collectGarbage(catalog, { graceMs: 0, now: Date.now() + 1000 });
    expect(await chunks.has(lost.manifest)).toBe(false);
  });

  it('resumes an interrupted sweep from its saved state', async () => {
    const { catalog, chunks, objects } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    const junk = await chunks.putBatch(Array.from({ length: 60 }, (_, i) => new TextEncoder().encode(`junk ${i}`)));
    const abort = new AbortController();
    let batches = 0;
    const now = Date.now() + 1000;
    const first = collectGarbage(catalog, {
      graceMs: 0, now, deleteBatchSize: 10, signal: abort.signal,
      onProgress: (p) => { if (p.phase === 'sweep' && ++batches === 2) abort.abort(new Error('interrupted')); },
    });
    await expect(first).rejects.toThrow('interrupted');
    const left = (await Promise.all(junk.map((h) => chunks.has(h)))).filter(Boolean).length;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(60);
    const saved = await new ObjectStoreGcState(objects).load();
    expect(saved?.state.sweptAfter).toMatch(/^[0-9a-f]{64}$/);

    const second = await collectGarbage(catalog, { graceMs: 0, now: now + 1000, deleteBatchSize: 10 });
    expect(second.resumed).toBe(true);
    expect(second.deleted.chunks).toBe(60);
    for (const h of junk) expect(await chunks.has(h)).toBe(false);
    expect(await new ObjectStoreGcState(objects).load()).toBeUndefined();
    expect(rowsOf(await catalog.read('r', 't'))).toEqual([{ id: 1, v: 'a' }]);
    // The next run starts afresh.
    expect((await collectGarbage(catalog, { graceMs: 0 })).resumed).toBe(false);
  });

  it('refuses to sweep when a reachable object is missing, and rejects bad options with typed errors', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    const c = await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    const junk = await chunks.put(new TextEncoder().encode('junk'));
    await chunks.delete([c.manifest!]);
    await expect(collectGarbage(catalog, { graceMs: 0, now: Date.now() + 1000 })).rejects.toMatchObject({ code: 'CHUNK_NOT_FOUND', details: { hash: c.manifest, table: 't', repo: 'r' } });
    expect(await chunks.has(junk)).toBe(true);
    await expect(collectGarbage(catalog, { graceMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(collectGarbage(catalog, { retainHistoryMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(collectGarbage(catalog, { deleteBatchSize: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('service routes: POST /gc and POST /repos/:repo/verify', async () => {
    const { catalog, chunks } = await env(fsEnv);
    await catalog.createRepo('r');
    await catalog.createTable('r', 't', { schema: SCHEMA, rows: [{ id: 1, v: 'a' }] });
    const junk = await chunks.put(new TextEncoder().encode('junk'));
    const app = await buildApp({ catalog });
    try {
      let reply = await app.inject({ method: 'POST', url: '/gc', payload: { dryRun: true, graceMs: 0 } });
      expect(reply.statusCode).toBe(200);
      expect((reply.json() as GcResult).garbage.chunks).toBe(1);
      expect(await chunks.has(junk)).toBe(true);
      reply = await app.inject({ method: 'POST', url: '/gc', payload: { dryRun: 'yes' } });
      expect(reply.statusCode).toBe(400);
      expect(reply.json()).toMatchObject({ code: 'INVALID_ARGUMENT' });
      reply = await app.inject({ method: 'POST', url: '/repos/r/verify', payload: {} });
      expect(reply.statusCode).toBe(200);
      expect(reply.json()).toMatchObject({ ok: true, repos: ['r'] });
      reply = await app.inject({ method: 'POST', url: '/repos/nope/verify', payload: {} });
      expect(reply.json()).toMatchObject({ code: 'REPO_NOT_FOUND' });
    } finally {
      await app.close();
    }
  });
});

/**
 * Writers commit continuously to several tables and branches (and create, fill and delete scratch
 * branches) while GC runs again and again with a short grace period; a long transaction uploads its
 * data first and commits only after several GC runs, protected by its pending record. Afterwards every
 * table at every commit of every branch equals the model, and nothing unreachable is left.
 */
async function gcUnderLoad(e: Env): Promise<void> {
  const { catalog, chunks } = e;
  const repo = 'load';
  // Longer than any write here takes, rebases and retries included (asserted below): the invariant GC relies on.
  const GRACE = 10_000;
  await catalog.createRepo(repo);
  const model = new Map<string, Map<number, Row[]>>(); // table -> version -> rows
  const remember = (table: string, version: number | undefined, rows: Row[]): void => {
    if (!model.has(table)) model.set(table, new Map());
    model.get(table)!.set(version!, sorted(rows));
  };
  const unkeyed = SCHEMA;
  // Four writers on one branch can exhaust the catalog's rebases on a slow backend: nothing became visible, retry.
  let slowestWrite = 0;
  const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      for (;;) {
        try {
          return await fn();
        } catch (err) {
          if ((err as ArmillariaError).code !== 'REF_CONFLICT') throw err;
        }
      }
    } finally {
      slowestWrite = Math.max(slowestWrite, Date.now() - t0);
    }
  };
  // Keyed table (upserts), unkeyed append-only, unkeyed overwritten each time; one table on a second branch.
  let users: Row[] = [{ id: 0, v: 'u0' }];
  remember('users', (await catalog.createTable(repo, 'users', { schema: unkeyed, rows: users, primaryKey: ['id'] })).version, users);
  let events: Row[] = [{ id: 0, v: 'e0' }];
  remember('events', (await catalog.createTable(repo, 'events', { schema: unkeyed, rows: events })).version, events);
  let snap: Row[] = [{ id: 0, v: 's0' }];
  remember('snap', (await catalog.createTable(repo, 'snap', { schema: unkeyed, rows: snap })).version, snap);
  await catalog.createBranch(repo, 'feature');
  let feat: Row[] = [{ id: 0, v: 'f0' }];
  remember('feat', (await catalog.createTable(repo, 'feat', { schema: unkeyed, rows: feat, branch: 'feature' })).version, feat);

  const writers = [
    async () => {
      for (let i = 1; i <= ITERATIONS * 3; i++) {
        const batch = Array.from({ length: 20 }, (_, k) => ({ id: (i * 37 + k * 11) % 300, v: `u${i}-${k}` }));
        const byId = new Map(users.map((r) => [r.id, r]));
        for (const r of batch) byId.set(r.id, r);
        const r = await retry(() => catalog.upsert(repo, 'users', batch));
        users = [...byId.values()];
        remember('users', r.version, users);
      }
    },
    async () => {
      for (let i = 1; i <= ITERATIONS * 3; i++) {
        const add = Array.from({ length: 15 }, (_, k) => ({ id: i * 100 + k, v: `e${i}-${k}` }));
        const r = await retry(() => catalog.append(repo, 'events', add));
        events = [...events, ...add];
        remember('events', r.version, events);
      }
    },
    async () => {
      for (let i = 1; i <= ITERATIONS * 3; i++) {
        const rows = Array.from({ length: 10 + (i % 5) }, (_, k) => ({ id: k, v: `s${i}-${k}` }));
        const r = await retry(() => catalog.write(repo, 'snap', rows));
        snap = rows;
        remember('snap', r.version, snap);
      }
    },
    async () => {
      for (let i = 1; i <= ITERATIONS * 2; i++) {
        const add = [{ id: i, v: `f${i}` }];
        const r = await retry(() => catalog.append(repo, 'feat', add, { branch: 'feature' }));
        feat = [...feat, ...add];
        remember('feat', r.version, feat);
      }
    },
  ];
  // Scratch branches: filled with unique data, then deleted; expired at once (retainHistoryMs 0).
  const scratch: Hash[] = [];
  const scratchWriter = async (): Promise<void> => {
    for (let i = 0; i < ITERATIONS; i++) {
      const name = `scratch-${i}`;
      await catalog.createBranch(repo, name);
      const r = await catalog.createTable(repo, 'tmp', { schema: unkeyed, rows: [{ id: i, v: `scratch only ${i} ${Math.random()}` }], branch: name });
      scratch.push(r.commit.hash, ...(await tableObjects(catalog, repo, 'tmp', name)));
      await catalog.deleteBranch(repo, name);
    }
  };
  // The long transaction: data uploaded now, committed after GC ran several times past its grace.
  const longRows: Row[] = Array.from({ length: 50 }, (_, k) => ({ id: k, v: `long ${k}` }));
  const pending: PendingTxnRecord[] = [];
  const roots = [pendingTxnRoots({ pending: async () => [...pending] })];
  const longTxn = async (): Promise<void> => {
    const base = (await catalog.resolve(repo)).hash;
    const staged = await catalog.format.write(toArrowTable(longRows, schemaFromSpec(SCHEMA)), {});
    pending.push({ id: 'long', base, tree: { tables: { long: { manifest: staged.manifest } } } });
    const until = Date.now() + GRACE + 1000;
    while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const runs = gcRuns; // two whole GC runs with the staged data past grace, protected only by the record
    while (gcRuns < runs + 2) await new Promise((r) => setTimeout(r, 100));
    for (;;) {
      const head = await catalog.resolve(repo);
      const tables = { ...(await catalog.readTree(repo, head.tree)).tables, long: { manifest: staged.manifest, version: 1 } };
      try {
        await catalog.commitTree(repo, 'main', { baseCommit: head.hash, tree: { tables }, message: 'long txn' });
        break;
      } catch (err) {
        if ((err as ArmillariaError).code !== 'REF_CONFLICT') throw err;
      }
    }
    pending.length = 0;
    remember('long', 1, longRows);
  };

  let gcRuns = 0;
  let writing = true;
  const gcLoop = async (): Promise<void> => {
    while (writing || gcRuns < 3) {
      await collectGarbage(catalog, { graceMs: GRACE, retainHistoryMs: 0, roots, deleteBatchSize: 25 });
      gcRuns++;
    }
  };
  const gc = gcLoop();
  // Every task settles before the test can end (and its cleanup remove the store under them).
  const settled = await Promise.allSettled([...writers.map((w) => w()), scratchWriter(), longTxn()]);
  writing = false;
  const gcSettled = await Promise.allSettled([gc]);
  for (const s of [...settled, ...gcSettled]) if (s.status === 'rejected') throw s.reason;
  expect(gcRuns).toBeGreaterThanOrEqual(3);
  console.log(`gc under load: ${gcRuns} gc runs, slowest write ${slowestWrite} ms (grace ${GRACE} ms)`);
  expect(slowestWrite, 'a write outlasted the grace period: the test broke GC\'s precondition').toBeLessThan(GRACE);

  // Abandoned uploads, more than one listing page (S3 pages hold 1000 keys) and several delete batches.
  const junk = await chunks.putBatch(Array.from({ length: 1200 }, (_, i) => new TextEncoder().encode(`abandoned upload ${i}`)));
  // Writers stopped: nothing is in flight, so no grace is needed any more.
  const final = await collectGarbage(catalog, { graceMs: 0, retainHistoryMs: 0, now: Date.now() + 1 });
  expect(final.deleted.chunks).toBeGreaterThanOrEqual(junk.length);
  expect((await chunks.missing(junk)).length).toBe(junk.length);
  const check = await collectGarbage(catalog, { dryRun: true, graceMs: 0, retainHistoryMs: 0, now: Date.now() + 1 });
  expect(check.garbage.chunks).toBe(0);
  expect(check.young.chunks).toBe(0);
  expect(check.live.chunks).toBe(check.scanned.chunks);
  expect(await countChunks(chunks)).toBe(final.live.chunks);
  if (e.diskChunks) expect(await e.diskChunks()).toBe(final.live.chunks);
  for (const h of scratch) expect(await chunks.has(h)).toBe(false);

  // Every table at every commit of every branch reads back as the model says.
  let checked = 0;
  for (const branch of ['main', 'feature']) {
    for (const entry of await catalog.log(repo, { ref: branch, limit: 100_000 })) {
      const tree = await catalog.readTree(repo, entry.tree);
      for (const [table, te] of Object.entries(tree.tables)) {
        const expected = model.get(table)?.get(te.version);
        expect(expected, `${table} v${te.version}`).toBeDefined();
        expect(rowsOf(await catalog.read(repo, table, { ref: entry.hash })), `${table} v${te.version} at ${entry.hash}`).toEqual(expected);
        checked++;
      }
    }
  }
  expect(checked).toBeGreaterThan(ITERATIONS * 10);
  expect(rowsOf(await catalog.read(repo, 'long'))).toEqual(sorted(longRows));
  const verified = await verifyStore(catalog, { retainHistoryMs: 0 });
  expect(verified.problems).toEqual([]);
  expect(verified.ok).toBe(true);
}

describe('gc under load', () => {
  it('local disk', async () => {
    await gcUnderLoad(await env(fsEnv));
  }, 300_000);
  it.skipIf(!process.env.ARMILLARIA_S3_ENDPOINT)('S3 (MinIO)', async () => {
    await gcUnderLoad(await env(s3Env));
  }, 300_000);
});
