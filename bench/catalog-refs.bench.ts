/**
 * `node --expose-gc --conditions=@armillaria/source --import tsx bench/catalog-refs.bench.ts`: costs of the catalog's refs.
 *  1. Branch create on a 50K-row and on a 10M-row table (embedded: fs objects + fs refs). Creating a
 *     branch writes one ref whatever the data size, so both must take the same time (< 1 ms).
 *  2. Time-travel lookups (table version, commit@{time}, branch@{time}) at 10 and 10,000 versions: index
 *     lookups, no walk; the 10,000/10 ratio should stay <= 1.2. Run twice: random targets over the whole
 *     history (the long one touches 1,000 times more memory, so cache misses show), and random targets
 *     among 10 spread over it (equal memory touched: what the history's length alone costs).
 * ARMILLARIA_BENCH_ROWS shrinks the big table (default 10,000,000); ARMILLARIA_BENCH_VERSIONS the long history.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { Table, makeVector } from 'apache-arrow';
import { FsObjectStore, MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ObjectStoreRefStore, ParquetTableFormat, type RefStore } from '@armillaria/catalog';
import { envInt, fmt, printTable } from './bench-util.js';

interface Env {
  catalog: Catalog;
  cleanup: () => Promise<void>;
}

/** Where the embedded stores live: local disk (durable refs: several fsyncs per CAS) or tmpfs (fsync free). */
const DISK = process.env.ARMILLARIA_BENCH_DIR ?? tmpdir();
const TMPFS = '/dev/shm';
const MEMORY = 'memory';

/** `memory`: refs in an in-memory object store (the catalog's own cost, no file system at all). */
async function openEmbedded(root: string, targetChunkRows?: number): Promise<Env> {
  const dir = await mkdtemp(join(root === MEMORY ? TMPFS : root, 'armillaria-bench-refs-'));
  const chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: join(dir, 'objects') }), hasher: await loadHasher() });
  const refs: RefStore = root === MEMORY ? new ObjectStoreRefStore({ objects: new MemoryObjectStore() }) : new FsRefStore({ root: join(dir, 'refs') });
  const format = new ParquetTableFormat({ chunks, ...(targetChunkRows ? { targetChunkRows } : {}) });
  const catalog = new Catalog({ chunks, refs, format });
  return {
    catalog,
    cleanup: async () => {
      await refs.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const label = (root: string): string => (root === MEMORY ? 'memory' : root === TMPFS ? 'fs on tmpfs' : `fs on disk (${root})`);

function bigTable(rows: number): Table {
  const ids = new BigInt64Array(rows);
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    ids[i] = BigInt(i);
    values[i] = (i * 7919) % 100_003;
  }
  return new Table({ id: makeVector(ids), value: makeVector(values) });
}

function stats(samples: number[]): { median: number; p90: number; best: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] as number, p90: s[Math.floor(s.length * 0.9)] as number, best: s[0] as number };
}

/** The lowest per-round median: the round least disturbed by other work on a shared machine. */
function quietMedian(rounds: number[][]): number {
  return Math.min(...rounds.map((r) => stats(r).median));
}

/** `n` timings of `lookup.run`, each on an input made before its clock starts, after a warm-up. */
async function sample(n: number, lookup: TimedLookup): Promise<number[]> {
  for (let i = 0; i < Math.min(20, n); i++) await lookup.run(lookup.input()); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const input = lookup.input();
    const t = performance.now();
    await lookup.run(input);
    out.push(performance.now() - t);
  }
  return out;
}

/** A timed call whose input is made untimed (`input`), then passed to the timed `run`. */
interface TimedLookup {
  input: () => number | string;
  run: (input: number | string) => Promise<unknown>;
}

type BranchRow = { root: string; rows: number; median: number; quiet: number; p90: number; best: number; loadSec: number };

async function loadedRepo(root: string, rows: number): Promise<{ env: Env; loadSec: number }> {
  const env = await openEmbedded(root, rows > 1_000_000 ? 1 << 20 : undefined);
  await env.catalog.createRepo('bench');
  const t = performance.now();
  await env.catalog.createTable('bench', 'big', { rows: bigTable(rows), primaryKey: ['id'] });
  const loadSec = (performance.now() - t) / 1000;
  const described = await env.catalog.describeTable('bench', 'big');
  if (described.rows !== rows) throw new Error(`table holds ${described.rows} rows, expected ${rows}`);
  return { env, loadSec };
}

/**
 * Branch creation on the small and the big table, in alternating rounds after the data is flushed
 * (`sync`) and the load's garbage collected, so neither side inherits the other's background work.
 */
async function branchCreate(root: string, small: number, big: number): Promise<[BranchRow, BranchRow]> {
  const a = await loadedRepo(root, small);
  const b = await loadedRepo(root, big);
  try {
    execFileSync('sync');
    (globalThis as { gc?: () => void }).gc?.();
    const sa: number[][] = [];
    const sb: number[][] = [];
    let n = 0;
    for (let round = 0; round < 10; round++) {
      sa.push(await sample(30, { input: () => `b${n++}`, run: (name) => a.env.catalog.createBranch('bench', name as string) }));
      sb.push(await sample(30, { input: () => `b${n++}`, run: (name) => b.env.catalog.createBranch('bench', name as string) }));
    }
    return [
      { root, rows: small, ...stats(sa.flat()), quiet: quietMedian(sa), loadSec: a.loadSec },
      { root, rows: big, ...stats(sb.flat()), quiet: quietMedian(sb), loadSec: b.loadSec },
    ];
  } finally {
    await a.env.cleanup();
    await b.env.cleanup();
  }
}

type Stats = ReturnType<typeof stats>;
type Lookup = 'version' | 'time' | 'reflog';

interface History {
  versions: number;
  buildSec: number;
  /** Random targets over the whole history. */
  lookup: Record<Lookup, TimedLookup>;
  /** Random targets among 10 spread evenly over the history: both histories touch as much memory. */
  lookupTen: Record<Lookup, TimedLookup>;
  cleanup: () => Promise<void>;
}


/** A repo whose table `t` has `versions` versions, one commit each, and its three kinds of lookup. */
async function buildHistory(versions: number): Promise<History> {
  const env = await openEmbedded(TMPFS);
  const c = env.catalog;
  await c.createRepo('tt');
  const created = await c.createTable('tt', 't', { rows: [{ id: 1n, value: 1 }], primaryKey: ['id'] });
  const manifest = created.manifest as string;
  const t0 = performance.now();
  // Each commit is a new version of `t` (same rows: the lookup cost does not depend on them).
  let head = created.commit;
  const times: number[] = [head.time];
  for (let v = 2; v <= versions; v++) {
    head = await c.commitTree('tt', 'main', { baseCommit: head.hash, tree: { tables: { t: { manifest, version: v } } }, message: `v${v}` });
    times.push(head.time);
  }
  const buildSec = (performance.now() - t0) / 1000;
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return 1 + (seed % n);
  };
  const tip = head.hash;
  // Each lookup's input (a version number or a ref string) is made before the clock starts: formatting a
  // time as text is the caller's work, and for 10,000 distinct times it can miss V8's number-string
  // cache, which 10 times always hit.
  const atTime = (pick: () => number, ref: (at: number) => string): TimedLookup => {
    let at = 0;
    return {
      input: () => ref((at = times[pick() - 1] as number)),
      run: async (spec) => {
        if ((await c.resolve('tt', spec as string)).time > at) throw new Error('wrong commit');
      },
    };
  };
  const lookups = (pick: () => number): Record<Lookup, TimedLookup> => ({
    version: {
      input: () => pick(),
      run: async (v) => {
        if ((await c.tableVersion('tt', 't', { version: v as number })).version !== v) throw new Error('wrong version');
      },
    },
    time: atTime(pick, (at) => `${tip}@{${at}}`),
    reflog: atTime(pick, (at) => `main@{${at}}`),
  });
  const ten = Array.from({ length: 10 }, (_, j) => Math.max(1, Math.round(((j + 1) * versions) / 10)));
  return {
    versions,
    buildSec,
    cleanup: env.cleanup,
    lookup: lookups(() => rand(versions)),
    lookupTen: lookups(() => ten[rand(10) - 1] as number),
  };
}

/** Both histories measured in alternating rounds, so load on the shared machine hits both alike. */
type LookupStats = Stats & { quiet: number };

async function timeTravel(short: History, long: History, targets: 'lookup' | 'lookupTen'): Promise<Record<Lookup, [LookupStats, LookupStats]>> {
  const out = {} as Record<Lookup, [LookupStats, LookupStats]>;
  for (const kind of ['version', 'time', 'reflog'] as const) {
    const a: number[][] = [];
    const b: number[][] = [];
    for (let round = 0; round < 10; round++) {
      // 200 each, every kind alike (the reflog once took ~1 ms a lookup and got fewer samples; at µs a
      // short round mostly measures the caches warming after the other history's round).
      a.push(await sample(200, short[targets][kind]));
      b.push(await sample(200, long[targets][kind]));
    }
    out[kind] = [{ ...stats(a.flat()), quiet: quietMedian(a) }, { ...stats(b.flat()), quiet: quietMedian(b) }];
  }
  return out;
}

export async function runRefBenchmarks(opts: { branchCreate?: boolean } = {}): Promise<void> {
  const bigRows = envInt('ARMILLARIA_BENCH_ROWS', 10_000_000);
  const longHistory = envInt('ARMILLARIA_BENCH_VERSIONS', 10_000);
  if (opts.branchCreate !== false) await branchCreateTable(bigRows);
  await timeTravelTable(longHistory);
}

async function branchCreateTable(bigRows: number): Promise<void> {
  const rowsOut: BranchRow[] = [];
  for (const root of [MEMORY, TMPFS, DISK]) rowsOut.push(...(await branchCreate(root, 50_000, bigRows)));
  printTable('Branch create (embedded catalog; one ref write, no chunk), 300 branches each, alternating rounds', ['refs on', 'table rows', 'median ms', 'quietest round ms', 'p90 ms', 'best ms', 'table load s'],
    rowsOut.map((r) => [label(r.root), r.rows, r.median, r.quiet, r.p90, r.best, r.loadSec]));
  for (let i = 0; i < rowsOut.length; i += 2) {
    const [a, b] = [rowsOut[i] as BranchRow, rowsOut[i + 1] as BranchRow];
    console.log(`${label(a.root)}: ratio ${b.rows}/${a.rows} rows: median ${fmt(b.median / a.median)}, quietest round ${fmt(b.quiet / a.quiet)}`);
  }
}

async function timeTravelTable(longHistory: number): Promise<void> {
  const short = await buildHistory(10);
  const long = await buildHistory(longHistory);
  try {
    for (const targets of ['lookup', 'lookupTen'] as const) await timeTravelPrint(short, long, targets);
  } finally {
    await short.cleanup();
    await long.cleanup();
  }
}

async function timeTravelPrint(short: History, long: History, targets: 'lookup' | 'lookupTen'): Promise<void> {
  const r = await timeTravel(short, long, targets);
  // Lookups take microseconds: printed in µs (the samples are ms).
  const us = (ms: number): number => ms * 1000;
  const which = targets === 'lookup'
    ? 'random targets over the whole history'
    : 'random targets among 10 spread over the history (the same memory touched in both: what the history length alone costs)';
  printTable(`Time-travel lookup (embedded on tmpfs, warm commit cache), ${which}, 10 alternating rounds`, [
    'versions', 'version N: median µs', 'quietest round', 'p90', 'commit@{t}: median µs', 'quietest round', 'p90',
    'branch@{t} (reflog): median µs', 'quietest round', 'p90', 'history build s',
  ], [short, long].map((h, i) => [
    h.versions, us(r.version[i]!.median), us(r.version[i]!.quiet), us(r.version[i]!.p90), us(r.time[i]!.median), us(r.time[i]!.quiet), us(r.time[i]!.p90),
    us(r.reflog[i]!.median), us(r.reflog[i]!.quiet), us(r.reflog[i]!.p90), h.buildSec,
  ]));
  const ratio = (k: Lookup, f: 'median' | 'quiet') => fmt(r[k][1][f] / r[k][0][f]);
  for (const f of ['median', 'quiet'] as const) {
    console.log(`ratio ${long.versions}/${short.versions} (${f === 'median' ? 'median of all samples' : 'quietest round medians'}): version N ${ratio('version', f)}, commit@{t} ${ratio('time', f)}, branch@{t} ${ratio('reflog', f)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runRefBenchmarks();
