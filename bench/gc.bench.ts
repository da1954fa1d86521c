/**
 * GC and verify over a large local-disk store: time, chunks/s and peak memory (rss, heap sampled every
 * 20 ms) of a dry run, verify and a real GC. Half of the chunks are reachable (tables of 100k chunks with
 * paged manifests, one commit each), half are old garbage.
 *
 *   npm run bench:gc                         # 1M chunks (generation takes a while)
 *   ARMILLARIA_BENCH_GC_CHUNKS=100000 npm run bench:gc
 *   ARMILLARIA_BENCH_GC_DIR=/path             # where the store goes (default: a temp dir, removed after)
 *   ARMILLARIA_BENCH_GC_FSYNC=1               # generate through FsObjectStore.put (fsync per chunk: ~1.4k/s here)
 *
 * By default data chunks are generated as plain files in FsObjectStore's layout (`<root>/<key>`, what its
 * put leaves behind minus the fsyncs), so a 1M store takes about a minute instead of ~12.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJsonBytes, chunkKey, mapLimit, type Hash } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, collectGarbage, verifyStore } from '@armillaria/catalog';
import { printTable, seededBytes } from './bench-util.js';

const TOTAL = Number(process.env.ARMILLARIA_BENCH_GC_CHUNKS ?? 1_000_000);
const CHUNK_BYTES = 64;
const TABLE_CHUNKS = 100_000;
const PAGE = 256;

const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);

/** Peak rss and heapUsed while `fn` runs, sampled every 20 ms. */
async function measured<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T; rss: number; heap: number }> {
  global.gc?.();
  let rss = 0;
  let heap = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  const start = performance.now();
  try {
    const value = await fn();
    sample();
    return { ms: performance.now() - start, value, rss, heap };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const dir = process.env.ARMILLARIA_BENCH_GC_DIR ?? (await mkdtemp(join(tmpdir(), 'armillaria-gc-bench-')));
  const root = join(dir, 'objects');
  const objects = new FsObjectStore({ root });
  const dirs = new Set<string>();
  const hasher = await loadHasher();
  const chunks = new ObjectChunkStore({ objects, hasher });
  const refs = new FsRefStore({ root: join(dir, 'refs') });
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  try {
    // ---- generate: data chunks straight through the FsObjectStore, in parallel
    const reachable = Math.floor(TOTAL / 2);
    const gen = await measured(async () => {
      await catalog.createRepo('bench');
      const BATCH = 4096;
      let table: Array<{ hash: Hash; rows: number; bytes: number; stats: Record<string, never> }> = [];
      let tables = 0;
      const flushTable = async (): Promise<void> => {
        if (table.length === 0) return;
        const pages: Array<{ hash: Hash; rows: number; chunks: number }> = [];
        for (let i = 0; i < table.length; i += PAGE) {
          const list = table.slice(i, i + PAGE);
          pages.push({ hash: await chunks.put(canonicalJsonBytes({ formatVersion: 1, kind: 'manifest-page', chunks: list })), rows: list.length, chunks: list.length });
        }
        const manifest = await chunks.put(canonicalJsonBytes({
          formatVersion: 1, schema: { fields: [{ name: 'b', type: 'binary', nullable: false }] }, rows: table.length, bytes: table.length * CHUNK_BYTES, pages,
        }));
        const head = await catalog.resolve('bench');
        const tree = { ...(await catalog.readTree('bench', head.tree)).tables, [`t${tables++}`]: { manifest, version: 1 } };
        await catalog.commitTree('bench', 'main', { baseCommit: head.hash, tree: { tables: tree } });
        table = [];
      };
      for (let start = 0; start < TOTAL; start += BATCH) {
        const bodies = Array.from({ length: Math.min(BATCH, TOTAL - start) }, (_, i) => seededBytes(CHUNK_BYTES, start + i + 1));
        const hashes = await hasher.hashMany(bodies);
        await mapLimit(bodies, 64, async (b, i) => {
          const key = chunkKey(hashes[i]!, 'objects');
          if (process.env.ARMILLARIA_BENCH_GC_FSYNC) return void (await objects.put(key, b));
          const parent = join(root, key.slice(0, key.lastIndexOf('/')));
          if (!dirs.has(parent)) {
            await mkdir(parent, { recursive: true });
            dirs.add(parent);
          }
          await writeFile(join(root, key), b);
        });
        hashes.forEach((hash, i) => {
          if (start + i < reachable) table.push({ hash, rows: 1, bytes: CHUNK_BYTES, stats: {} });
        });
        if (table.length >= TABLE_CHUNKS) await flushTable();
        if ((start / BATCH) % 25 === 0) process.stderr.write(`\rgenerated ${start + bodies.length}/${TOTAL}`);
      }
      await flushTable();
      process.stderr.write('\n');
    });

    const now = Date.now() + 1000; // everything counts as older than grace
    const dry = await measured(() => collectGarbage(catalog, { dryRun: true, graceMs: 0, now }));
    const ver = await measured(() => verifyStore(catalog, { concurrency: 4, batchSize: 512 }));
    if (!ver.value.ok) throw new Error(`verify found problems: ${JSON.stringify(ver.value.problems.slice(0, 3))}`);
    const real = await measured(() => collectGarbage(catalog, { graceMs: 0, now }));
    const g = real.value;
    if (g.deleted.chunks !== TOTAL - reachable) throw new Error(`expected ${TOTAL - reachable} deleted, got ${g.deleted.chunks}`);

    printTable(`GC and verify over ${TOTAL.toLocaleString()} chunks of ${CHUNK_BYTES} B on local disk (${reachable.toLocaleString()} reachable)`,
      ['phase', 'time s', 'chunks/s', 'peak rss MiB', 'peak heap MiB', 'notes'], [
        [process.env.ARMILLARIA_BENCH_GC_FSYNC ? 'generate (FsObjectStore puts)' : 'generate (files, no fsync)', (gen.ms / 1000).toFixed(1), Math.round(TOTAL / (gen.ms / 1000)), mib(gen.rss), mib(gen.heap), ''],
        ['gc dry run (mark + list)', (dry.ms / 1000).toFixed(1), Math.round(dry.value.scanned.chunks / (dry.ms / 1000)), mib(dry.rss), mib(dry.heap),
          `marked ${dry.value.marked}, mark ${(dry.value.ms.mark / 1000).toFixed(1)} s, mark set ${mib(dry.value.markSetBytes)} MiB`],
        ['verify (re-hash reachable)', (ver.ms / 1000).toFixed(1), Math.round(ver.value.chunks / (ver.ms / 1000)), mib(ver.rss), mib(ver.heap), `${ver.value.chunks} chunks`],
        ['gc (mark + sweep + delete)', (real.ms / 1000).toFixed(1), Math.round(g.scanned.chunks / (real.ms / 1000)), mib(real.rss), mib(real.heap),
          `deleted ${g.deleted.chunks}, sweep ${(g.ms.sweep / 1000).toFixed(1)} s`],
      ]);
  } finally {
    await catalog.close();
    await refs.close();
    await chunks.close();
    if (!process.env.ARMILLARIA_BENCH_GC_DIR) await rm(dir, { recursive: true, force: true });
  }
}

await main();
