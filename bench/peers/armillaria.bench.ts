/**
 * The Armillaria side of the peers bench: workloads 1-7 once, mirroring peer_common.py step by step,
 * on one mode. Prints one JSON line of metrics on stdout (progress on stderr).
 * Usage: tsx --conditions=@armillaria/source armillaria.bench.ts <embedded|distributed> <data dir> <work dir>
 * Sizes: PEERS_ROWS, PEERS_COMMITS, PEERS_WRITERS, PEERS_CONC_COMMITS, PEERS_ROUNDS (set by run.sh).
 * Distributed mode needs ARMILLARIA_S3_ENDPOINT and ARMILLARIA_REDIS_URL (run.sh starts them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tableFromIPC, type Table } from 'apache-arrow';
import { TxnConflictError } from '@armillaria/txn-coordinator';
import { REPO, openSystem, type ArmSystem, type Mode } from './armillaria-system.js';

const SCAN_SQL = 'SELECT count(*) AS n, sum(amount) AS s, avg(quantity) AS q FROM orders';
const ROWS_PER_COMMIT = 100;
const MiB = 2 ** 20;

function env(name: string): number {
  const v = Number.parseInt(process.env[name] ?? '', 10);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer (run through run.sh)`);
  return v;
}
const cfg = { rows: env('PEERS_ROWS'), commits: env('PEERS_COMMITS'), writers: env('PEERS_WRITERS'), concCommits: env('PEERS_CONC_COMMITS'), rounds: env('PEERS_ROUNDS') };

const readArrow = (data: string, name: string): Table => tableFromIPC(readFileSync(join(data, name)));
/** Rows [start, start+count) of `t` (Arrow JS slices by end index). */
const slice = (t: Table, start: number, count: number): Table => t.slice(start, start + count);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const p99 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] as number; };
const arrowBytes = (t: Table): number => t.data.reduce((a, d) => a + d.byteLength, 0);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [(performance.now() - t0) / 1000, v];
}

async function query(sys: ArmSystem, sql: string, versions?: Record<string, number>): Promise<Record<string, unknown>> {
  const r = await sys.engine.query(REPO, sql, versions ? { versions } : {});
  return r.rows[0] as Record<string, unknown>;
}

/** One blind append as a transaction, retried on conflict: returns [CAS retries + rebases, conflicts]. */
async function txnAppend(sys: ArmSystem, table: string, rows: Table): Promise<[number, number]> {
  let conflicts = 0;
  for (;;) {
    const t = await sys.coordinator.begin({ repo: REPO });
    await sys.coordinator.append(t.id, table, rows);
    try {
      const r = await sys.coordinator.commit(t.id);
      return [r.attempts - 1, conflicts];
    } catch (e) {
      if (!(e instanceof TxnConflictError)) throw e;
      conflicts++;
    }
  }
}

async function main(): Promise<void> {
  const [mode, data, work] = process.argv.slice(2) as [Mode, string, string];
  const out: Record<string, number | string> = {};
  const orders = readArrow(data, 'orders.arrow');
  const appends = readArrow(data, 'appends.arrow');
  const conc = readArrow(data, 'conc.arrow');
  const log = (m: string): void => { process.stderr.write(`  armillaria ${mode}: ${m}\n`); };

  // 1. Ingest: N rows as a new keyed table.
  const main = await openSystem(mode, join(work, 'main'));
  const [ingest] = await timed(() => main.catalog.createTable(REPO, 'orders', { rows: orders, primaryKey: ['order_id'] }));
  out.ingest_s = ingest;
  out.ingest_mb_s = arrowBytes(orders) / MiB / ingest;
  out.ingest_storage_mb = (await main.storageBytes()) / MiB;
  log(`ingest ${ingest.toFixed(2)} s`);

  // 2. Full scan and a 1% key-range filter through the gateway's engine (one warm-up, median of 3).
  const lo = Math.floor(cfg.rows * 0.37);
  const hi = lo + Math.max(1, Math.floor(cfg.rows / 100)) - 1;
  const filterSql = `SELECT count(*) AS n, sum(amount) AS s FROM orders WHERE order_id BETWEEN ${lo} AND ${hi}`;
  for (const [metric, sql] of [['scan_s', SCAN_SQL], ['filter_s', filterSql]] as const) {
    await query(main, sql);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await timed(() => query(main, sql)))[0]);
    out[metric] = median(times);
  }
  const check = await query(main, filterSql);
  if (Number(check.n) !== hi - lo + 1) throw new Error(`filter returned ${JSON.stringify(check)}`);
  log(`scan ${(out.scan_s as number).toFixed(3)} s, filter ${(out.filter_s as number).toFixed(3)} s`);

  // 4. Updates: 1% random rows by key, `rounds` rounds.
  const before = await main.storageBytes();
  let total = 0;
  for (let r = 0; r < cfg.rounds; r++) {
    const upd = readArrow(data, `updates-${r}.arrow`);
    total += (await timed(() => main.catalog.upsert(REPO, 'orders', upd)))[0];
  }
  out.update_s = total;
  out.update_written_mb = ((await main.storageBytes()) - before) / MiB;
  out.update_storage_mb = (await main.storageBytes()) / MiB;
  const n = await query(main, 'SELECT count(*) AS n FROM orders');
  if (Number(n.n) !== cfg.rows) throw new Error(`upserts changed the row count: ${JSON.stringify(n)}`);
  log(`updates ${total.toFixed(2)} s`);

  // 7. Branch + merge: branch, one append on it and one on main (diverged), then a 3-way merge.
  const [create] = await timed(() => main.catalog.createBranch(REPO, 'experiment', { from: 'main' }));
  await main.catalog.append(REPO, 'orders', slice(appends, 0, ROWS_PER_COMMIT), { branch: 'experiment' });
  await main.catalog.append(REPO, 'orders', slice(appends, ROWS_PER_COMMIT, ROWS_PER_COMMIT));
  const [merge] = await timed(() => main.catalog.merge(REPO, { source: 'experiment', into: 'main' }));
  const merged = await query(main, 'SELECT count(*) AS n FROM orders');
  if (Number(merged.n) !== cfg.rows + 2 * ROWS_PER_COMMIT) throw new Error(`merge result has ${JSON.stringify(merged)} rows`);
  out.branch_create_ms = create * 1000;
  out.branch_merge_ms = merge * 1000;
  await main.close();

  // 3. Small commits: `commits` appends of 100 rows to a fresh (unkeyed) table.
  const small = await openSystem(mode, join(work, 'small'));
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < cfg.commits; i++) {
    const batch = slice(appends, i * ROWS_PER_COMMIT, ROWS_PER_COMMIT);
    lat.push((await timed(() => (i === 0 ? small.catalog.createTable(REPO, 'events', { rows: batch }) : small.catalog.append(REPO, 'events', batch))))[0]);
  }
  out.commits_per_s = cfg.commits / ((performance.now() - t0) / 1000);
  out.commit_p50_ms = median(lat) * 1000;
  out.commit_p99_ms = p99(lat) * 1000;
  out.commits_storage_mb = (await small.storageBytes()) / MiB;
  await small.close();
  log(`small commits ${(out.commits_per_s as number).toFixed(1)}/s`);

  // 5. Time travel: version 1 of a table after 100 versions.
  const tt = await openSystem(mode, join(work, 'tt'));
  const first = slice(orders, 0, Math.min(cfg.rows, 100_000));
  await tt.catalog.createTable(REPO, 'hist', { rows: first });
  for (let i = 0; i < 99; i++) await tt.catalog.append(REPO, 'hist', slice(appends, (i * ROWS_PER_COMMIT) % Math.max(1, appends.numRows - ROWS_PER_COMMIT), ROWS_PER_COMMIT));
  const ttSql = 'SELECT count(*) AS n, sum(amount) AS s FROM hist';
  const v1 = await query(tt, ttSql, { hist: 1 });
  if (Number(v1.n) !== first.numRows) throw new Error(`version 1 has ${JSON.stringify(v1)} rows`);
  const tts: number[] = [];
  for (let i = 0; i < 3; i++) tts.push((await timed(() => query(tt, ttSql, { hist: 1 })))[0]);
  out.timetravel_s = median(tts);
  await tt.close();

  // 6. Concurrent writers: 4 async writers (one coordinator) to 4 tables, then to one table.
  for (const shape of ['conc4', 'conc1'] as const) {
    const cw = await openSystem(mode, join(work, shape));
    const names = Array.from({ length: cfg.writers }, (_, w) => (shape === 'conc4' ? `w${w}` : 'shared'));
    for (const name of new Set(names)) await cw.catalog.createTable(REPO, name, { rows: slice(conc, 0, ROWS_PER_COMMIT) });
    let retries = 0;
    let conflicts = 0;
    const start = performance.now();
    await Promise.all(names.map(async (name, w) => {
      for (let i = 0; i < cfg.concCommits; i++) {
        const [r, c] = await txnAppend(cw, name, slice(conc, (w * cfg.concCommits + i) * ROWS_PER_COMMIT, ROWS_PER_COMMIT));
        retries += r;
        conflicts += c;
      }
    }));
    out[`${shape}_commits_per_s`] = (cfg.writers * cfg.concCommits) / ((performance.now() - start) / 1000);
    out[`${shape}_conflicts`] = conflicts;
    out[`${shape}_cas_retries`] = retries;
    await cw.close();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
