/**
 * A stream of small scattered upserts on a large keyed table (default 400 upserts of 50 random keys,
 * every column new, on 1M rows; ARMILLARIA_BENCH_EDITS, ARMILLARIA_BENCH_EDIT_ROWS, ARMILLARIA_BENCH_ROWS):
 * bytes written and time per edit with the delta's sorted runs (the default, up to 8) and with one run
 * (`maxDeltaRuns: 1`, as before runs: every edit rewrites the delta chunks its keys fall in), against the floor of
 * writing each edit's rows as a file of its own (what a table format adding one file per commit, as
 * Delta Lake, Iceberg and DuckLake do, writes at least; their readers then merge those files).
 *
 * `runEditStreamBenchmark()` is called by bench/catalog.bench.ts (ARMILLARIA_BENCH_ONLY=edits); alone:
 *   node --conditions=@armillaria/source --import tsx bench/catalog-edits.bench.ts
 */
import { pathToFileURL } from 'node:url';
import { Table, vectorFromArray } from 'apache-arrow';
import { loadHasher, MemoryObjectStore, ObjectChunkStore } from '@armillaria/chunk-store';
import { ParquetTableFormat } from '@armillaria/catalog';
import type { Hash } from '@armillaria/core';
import { envInt, printTable } from './bench-util.js';
import { customersArrow } from './parquet-encoders.bench.js';

const MiB = 2 ** 20;

async function storedBytes(objects: MemoryObjectStore): Promise<number> {
  let n = 0;
  for await (const o of objects.list('')) n += o.size;
  return n;
}

/** The edits, the same for every policy: `per` random keys each (seeded), every non-key column new. */
function editTables(rows: number, edits: number, per: number): Table[] {
  const schema = customersArrow(1).schema;
  let x = 7;
  const rnd = (): number => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
  const out: Table[] = [];
  for (let e = 1; e <= edits; e++) {
    const ids = [...new Set(Array.from({ length: per }, () => Math.floor(rnd() * rows)))].sort((a, b) => a - b);
    const cols: Record<string, unknown[]> = { id: [], name: [], email: [], score: [], ts: [], active: [] };
    for (const i of ids) {
      cols.id!.push(BigInt(i));
      cols.name!.push(`name-${i}-e${e}`);
      cols.email!.push(`user${i}-e${e}@example.com`);
      cols.score!.push(Math.round(rnd() * 100_000) / 100);
      cols.ts!.push(1_700_000_000_000 + i * 1000 + e);
      cols.active!.push(rnd() < 0.5);
    }
    out.push(new Table(Object.fromEntries(schema.fields.map((f) => [f.name, vectorFromArray(cols[f.name]!, f.type)]))));
  }
  return out;
}

interface StreamResult {
  policy: string;
  writtenMiB: number;
  /** Mean KiB written by the last tenth of the edits (what an edit costs once the stream is long). */
  lateKiB: number;
  folds: number;
  /** Runs of the last version's delta, and a full read of it (best of 3). */
  runs: number;
  readMs: number;
  medianMs: number;
  p99Ms: number;
  totalSec: number;
}

async function stream(rows: number, edits: Table[], maxDeltaRuns: number): Promise<StreamResult> {
  const objects = new MemoryObjectStore();
  const hasher = await loadHasher();
  const format = new ParquetTableFormat({ chunks: new ObjectChunkStore({ objects, hasher }), hasher, maxDeltaRuns });
  let manifest: Hash = (await format.write(customersArrow(rows), { primaryKey: ['id'] })).manifest;
  const before = await storedBytes(objects);
  let last = before;
  const ms: number[] = [];
  const written: number[] = [];
  let folds = 0;
  const t0 = performance.now();
  for (const edit of edits) {
    const t = performance.now();
    manifest = (await format.upsert(manifest, edit)).manifest;
    ms.push(performance.now() - t);
    const now = await storedBytes(objects);
    written.push(now - last);
    last = now;
    if ((await format.readManifest(manifest)).delta === undefined) folds++;
  }
  const totalSec = (performance.now() - t0) / 1000;
  let readMs = Infinity;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await format.read(manifest);
    readMs = Math.min(readMs, performance.now() - t);
  }
  const m = await format.readManifest(manifest);
  const sorted = [...ms].sort((a, b) => a - b);
  const late = written.slice(Math.floor(written.length * 0.9));
  return {
    policy: maxDeltaRuns === 1 ? 'one sorted run (maxDeltaRuns 1)' : `sorted runs (maxDeltaRuns ${maxDeltaRuns}, default)`,
    writtenMiB: (last - before) / MiB,
    lateKiB: late.reduce((s, n) => s + n, 0) / late.length / 1024,
    folds,
    runs: m.delta ? (m.delta.runs?.length ?? 1) : 0,
    readMs,
    medianMs: sorted[Math.floor(sorted.length / 2)]!,
    p99Ms: sorted[Math.floor(sorted.length * 0.99)]!,
    totalSec,
  };
}

/** Each edit's rows written as a keyed table of its own: one new file per commit, nothing rewritten. */
async function filePerEdit(edits: Table[]): Promise<number> {
  const objects = new MemoryObjectStore();
  const hasher = await loadHasher();
  const format = new ParquetTableFormat({ chunks: new ObjectChunkStore({ objects, hasher }), hasher });
  for (const edit of edits) await format.write(edit, { primaryKey: ['id'] });
  return (await storedBytes(objects)) / MiB;
}

export async function runEditStreamBenchmark(): Promise<void> {
  const rows = envInt('ARMILLARIA_BENCH_ROWS', 1_000_000);
  const count = envInt('ARMILLARIA_BENCH_EDITS', 400);
  const per = envInt('ARMILLARIA_BENCH_EDIT_ROWS', 50);
  const edits = editTables(rows, count, per);
  const results = [await stream(rows, edits, 8), await stream(rows, edits, 1)];
  const floor = await filePerEdit(edits);
  printTable(`A stream of ${count} upserts of ${per} random keys (every column new) on ${rows} keyed rows, embedded, in memory`, [
    'policy', 'MiB written', 'x one file per edit', 'KiB per edit, last 10%', 'folds', 'median ms', 'p99 ms', 'total s', 'runs at the end', 'full read ms',
  ], [
    ...results.map((r) => [r.policy, r.writtenMiB, r.writtenMiB / floor, r.lateKiB, r.folds, r.medianMs, r.p99Ms, r.totalSec, r.runs, r.readMs]),
    ['each edit as a file of its own (no manifests; the floor)', floor, 1, (floor * 1024) / count, '', '', '', '', '', ''],
  ]);
  console.log(`bytes written, sorted runs / one run: ${(results[0]!.writtenMiB / results[1]!.writtenMiB).toFixed(2)}; full read: ${(results[0]!.readMs / results[1]!.readMs).toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runEditStreamBenchmark();
