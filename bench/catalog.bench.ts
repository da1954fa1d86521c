/**
 * `npm run bench:catalog`: the catalog issue's benchmark table in one run.
 * - storage: chunk reuse after updates/inserts/deletes, dedup of identical tables, diff cost, write
 *   throughput vs DuckDB COPY (catalog-format.bench.ts; ARMILLARIA_BENCH_ROWS, default 1M);
 * - diff: a 1% change's diffRows vs a full-scan diff at 10M rows (ARMILLARIA_BENCH_DIFF_ROWS);
 * - refs: branch creation on 50K vs 10M rows, time-travel lookups at 10 vs 10,000 versions
 *   (catalog-refs.bench.ts; ARMILLARIA_BENCH_ROWS shrinks the big table too);
 * - edits: bytes written and time per edit of a stream of small scattered upserts, with and without
 *   the early delta fold (catalog-edits.bench.ts; ARMILLARIA_BENCH_EDITS, default 400).
 * Run with `node --expose-gc` (the npm script does) so the ref benchmark can collect between samples.
 */
import { runDiffBenchmark, runFormatBenchmarks } from './catalog-format.bench.js';
import { runRefBenchmarks } from './catalog-refs.bench.js';
import { runEditStreamBenchmark } from './catalog-edits.bench.js';

const only = process.env.ARMILLARIA_BENCH_ONLY; // 'format' | 'diff' | 'refs' | 'timetravel' (refs without branch create) | 'edits'
if (only === undefined || only === 'format') await runFormatBenchmarks();
if (only === undefined || only === 'diff') await runDiffBenchmark();
if (only === undefined || only === 'refs' || only === 'timetravel') await runRefBenchmarks({ branchCreate: only !== 'timetravel' });
if (only === undefined || only === 'edits') await runEditStreamBenchmark();
