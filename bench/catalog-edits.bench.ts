/**
 * A stream of small scattered upserts on a large keyed table (default 400 upserts of 50 random keys,
 * every column new, on 1M rows; ARMILLARIA_BENCH_EDITS, ARMILLARIA_BENCH_EDIT_ROWS, ARMILLARIA_BENCH_ROWS):
 * bytes written and time per edit with the opt-in early fold (`deltaRewriteBudget` 1, ski rental) and
 * with the default, folding only at `deltaMaxFraction` (`Infinity`), against the floor of
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
  medianMs: number;
  p99Ms: number;
  totalSec: number;
}

async function stream(rows: number, edits: Table[], budget: number): Promise<StreamResult> {
  const objects = new MemoryObjectStore();
  const hasher = await loadHasher();
  const format = new ParquetTableFormat({ chunks: new ObjectChunkStore({ objects, hasher }), hasher, deltaRewriteBudget: budget });
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
  const sorted = [...ms].sort((a, b) => a - b);
  const late = written.slice(Math.floor(written.length * 0.9));
  return {
    policy: budget === Infinity ? 'fold at deltaMaxFraction only (default)' : `early fold, deltaRewriteBudget ${budget} (opt-in)`,
    writtenMiB: (last - before) / MiB,
    lateKiB: late.reduce((s, n) => s + n, 0) / late.length / 1024,
    folds,
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
  const results = [await stream(rows, edits, 1), await stream(rows, edits, Infinity)];
  const floor = await filePerEdit(edits);
  printTable(`A stream of ${count} upserts of ${per} random keys (every column new) on ${rows} keyed rows, embedded, in memory`, [
    'policy', 'MiB written', 'x one file per edit', 'KiB per edit, last 10%', 'folds', 'median ms', 'p99 ms', 'total s',
  ], [
    ...results.map((r) => [r.policy, r.writtenMiB, r.writtenMiB / floor, r.lateKiB, r.folds, r.medianMs, r.p99Ms, r.totalSec]),
    ['each edit as a file of its own (no manifests; the floor)', floor, 1, (floor * 1024) / count, '', '', '', ''],
  ]);
  console.log(`bytes written, early fold / fold at deltaMaxFraction only: ${(results[0]!.writtenMiB / results[1]!.writtenMiB).toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runEditStreamBenchmark();
