/**
 * `npm run bench:txn`: transaction commit throughput and latency.
 * Commits/s and p50/p99 latency of `commit()` with 1, 4 and 8 concurrent writers (one coordinator,
 * async concurrency), in two shapes:
 *  - disjoint tables: writer w appends one row to its own table per transaction (never conflicts);
 *  - same table, disjoint keys: writer w upserts its own keys of one keyed table (rebases on every race).
 * Embedded (FsObjectStore + FsRefStore + FsTxnLog on local disk) always; MinIO + Redis when
 * ARMILLARIA_S3_ENDPOINT and ARMILLARIA_REDIS_URL are set. Afterwards the branch history is checked:
 * every acknowledged commit is there exactly once and nothing else is (no lost or duplicated commit),
 * and the branch's reflog says how many commits each ref move carried (group commit lands a chain of
 * commits with one compare-and-swap).
 * ARMILLARIA_BENCH_TXN_COMMITS: commits per writer (default 40). Goal: >= 200 commits/s embedded, 8 writers, disjoint tables.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Catalog } from '@armillaria/catalog';
import type { TxnCoordinator } from '@armillaria/txn-coordinator';
import { openBenchStack } from './bench-stack.js';
import { envInt, fmt, printTable } from './bench-util.js';

const COMMITS = envInt('ARMILLARIA_BENCH_TXN_COMMITS', 40);
const WRITERS = [1, 4, 8];
type Mode = 'embedded' | 'distributed';
type Shape = 'disjoint tables' | 'same table, disjoint keys';

interface Env {
  catalog: Catalog;
  coordinator: TxnCoordinator;
  close(): Promise<void>;
}

async function open(mode: Mode): Promise<Env> {
  const dir = await mkdtemp(join(process.env.ARMILLARIA_BENCH_DIR ?? tmpdir(), 'armillaria-bench-txn-'));
  const stack = await openBenchStack(mode, dir, { name: 'bench-txn', bucket: process.env.ARMILLARIA_S3_BUCKET ?? 'armillaria' });
  return {
    catalog: stack.catalog, coordinator: stack.coordinator,
    close: async () => {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function run(mode: Mode, shape: Shape, writers: number): Promise<Array<string | number>> {
  const env = await open(mode);
  try {
    const repo = 'bench';
    await env.catalog.createRepo(repo);
    if (shape === 'disjoint tables') {
      for (let w = 0; w < writers; w++) await env.catalog.createTable(repo, `t${w}`, { schema: { fields: [{ name: 'n', type: 'int64' }] } });
    } else {
      await env.catalog.createTable(repo, 'shared', { schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'n', type: 'int64' }] }, primaryKey: ['id'] });
    }
    const base = await env.catalog.resolve(repo, 'main');
    const movesBefore = (await env.catalog.branchReflog(repo, 'main', { limit: 1_000_000 })).length;
    const c = env.coordinator;
    const latencies: number[] = [];
    const acknowledged = new Set<string>();
    let retries = 0;
    const start = performance.now();
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < COMMITS; i++) {
        const t = await c.begin({ repo });
        if (shape === 'disjoint tables') await c.append(t.id, `t${w}`, [{ n: i }]);
        else await c.upsert(t.id, 'shared', [{ id: w * 1_000_000 + i, n: i }]);
        const t0 = performance.now();
        const result = await c.commit(t.id);
        latencies.push(performance.now() - t0);
        retries += result.attempts - 1;
        acknowledged.add(result.commit);
      }
    }));
    const seconds = (performance.now() - start) / 1000;

    // No lost or duplicated commit: the history since `base` is exactly the acknowledged commits.
    const history: string[] = [];
    for (let h = await env.catalog.resolve(repo, 'main'); h.hash !== base.hash; h = await env.catalog.readCommit(repo, h.parents[0] as string)) history.push(h.hash);
    // Group commit: how many commits each move of the branch ref carried on average.
    const moves = (await env.catalog.branchReflog(repo, 'main', { limit: 1_000_000 })).length - movesBefore;
    const ok = history.length === writers * COMMITS && acknowledged.size === history.length && history.every((h) => acknowledged.has(h));
    latencies.sort((a, b) => a - b);
    return [mode, shape, String(writers), String(writers * COMMITS), fmt((writers * COMMITS) / seconds), fmt(percentile(latencies, 50)), fmt(percentile(latencies, 99)), String(retries), fmt(history.length / Math.max(1, moves)), ok ? 'yes' : 'NO'];
  } finally {
    await env.close();
  }
}

const modes: Mode[] = ['embedded'];
if (process.env.ARMILLARIA_S3_ENDPOINT && process.env.ARMILLARIA_REDIS_URL) modes.push('distributed');
const rows: Array<Array<string | number>> = [];
for (const mode of modes) {
  for (const shape of ['disjoint tables', 'same table, disjoint keys'] as const) {
    for (const writers of WRITERS) rows.push(await run(mode, shape, writers));
  }
}
printTable(
  `Transaction commits (${COMMITS} per writer; latency = commit() call, ms; begin + staging not included in latency but in commits/s)`,
  ['mode', 'shape', 'writers', 'commits', 'commits/s', 'p50 ms', 'p99 ms', 'CAS retries', 'commits per ref move', 'history exact'],
  rows,
);
if (rows.some((r) => r[9] !== 'yes')) {
  console.error('lost or duplicated commits');
  process.exitCode = 1;
}
