/**
 * `npx tsx --conditions=@armillaria/source bench/catalog-refs.bench.ts`: costs of the catalog's refs.
 *  1. Branch create on a 50K-row and on a 10M-row table (embedded: fs objects + fs refs). Creating a
 *     branch writes one ref whatever the data size, so both must take the same time (< 1 ms).
 *  2. Time-travel lookups (table version, time) at 10 and 10,000 versions: skip pointers make them
 *     O(log n) commit reads; the 10,000/10 ratio should stay <= 1.2.
 * ARMILLARIA_BENCH_ROWS shrinks the big table (default 10,000,000); ARMILLARIA_BENCH_VERSIONS the long history.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Float64, Int64, Table, vectorFromArray } from 'apache-arrow';
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
  return { catalog, cleanup: async () => rm(dir, { recursive: true, force: true }) };
}

const label = (root: string): string => (root === MEMORY ? 'memory' : root === TMPFS ? 'fs on tmpfs' : `fs on disk (${root})`);

function bigTable(rows: number): Table {
  const ids = new BigInt64Array(rows);
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    ids[i] = BigInt(i);
    values[i] = (i * 7919) % 100_003;
  }
  return new Table({ id: vectorFromArray(ids, new Int64()), value: vectorFromArray(values, new Float64()) });
}

function stats(samples: number[]): { median: number; p90: number; best: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] as number, p90: s[Math.floor(s.length * 0.9)] as number, best: s[0] as number };
}

async function sample(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(-1 - i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

type BranchRow = { root: string; rows: number; median: number; p90: number; best: number; loadSec: number };

async function branchCreate(root: string, rows: number): Promise<BranchRow> {
  const env = await openEmbedded(root, rows > 1_000_000 ? 1 << 20 : undefined);
  try {
    await env.catalog.createRepo('bench');
    const t = performance.now();
    await env.catalog.createTable('bench', 'big', { rows: bigTable(rows), primaryKey: ['id'] });
    const loadSec = (performance.now() - t) / 1000;
    const described = await env.catalog.describeTable('bench', 'big');
    if (described.rows !== rows) throw new Error(`table holds ${described.rows} rows, expected ${rows}`);
    const samples = await sample(300, (i) => env.catalog.createBranch('bench', `b${i < 0 ? `warm${-i}` : i}`));
    return { root, rows, ...stats(samples), loadSec };
  } finally {
    await env.cleanup();
  }
}

type Stats = ReturnType<typeof stats>;

async function timeTravel(versions: number): Promise<{ versions: number; version: Stats; time: Stats; reflog: Stats; buildSec: number }> {
  const env = await openEmbedded(TMPFS);
  try {
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
    const version = await sample(2000, async () => {
      const v = rand(versions);
      const found = await c.tableVersion('tt', 't', { version: v });
      if (found.version !== v) throw new Error('wrong version');
    });
    const time = await sample(2000, async () => {
      const at = times[rand(versions) - 1] as number;
      const commit = await c.resolve('tt', `${head.hash}@{${at}}`);
      if (commit.time > at) throw new Error('wrong commit');
    });
    const reflog = await sample(500, async () => {
      const at = times[rand(versions) - 1] as number;
      const commit = await c.resolve('tt', `main@{${at}}`);
      if (commit.time > at) throw new Error('wrong commit');
    });
    return { versions, version: stats(version), time: stats(time), reflog: stats(reflog), buildSec };
  } finally {
    await env.cleanup();
  }
}

export async function runRefBenchmarks(): Promise<void> {
  const bigRows = envInt('ARMILLARIA_BENCH_ROWS', 10_000_000);
  const longHistory = envInt('ARMILLARIA_BENCH_VERSIONS', 10_000);

  const rowsOut: BranchRow[] = [];
  for (const root of [MEMORY, TMPFS, DISK]) {
    rowsOut.push(await branchCreate(root, 50_000));
    rowsOut.push(await branchCreate(root, bigRows));
  }
  printTable('Branch create (embedded catalog; one ref write, no chunk), 300 branches each', ['refs on', 'table rows', 'median ms', 'p90 ms', 'best ms', 'table load s'],
    rowsOut.map((r) => [label(r.root), r.rows, r.median, r.p90, r.best, r.loadSec]));
  for (let i = 0; i < rowsOut.length; i += 2) {
    const [a, b] = [rowsOut[i] as BranchRow, rowsOut[i + 1] as BranchRow];
    console.log(`${label(a.root)}: ratio ${b.rows}/${a.rows} rows (median) ${fmt(b.median / a.median)}`);
  }

  const short = await timeTravel(10);
  const long = await timeTravel(longHistory);
  printTable('Time-travel lookup (embedded on tmpfs, warm commit cache), random targets', [
    'versions', 'version N: median ms', 'p90', 'commit@{t}: median ms', 'p90', 'branch@{t} (reflog): median ms', 'p90', 'history build s',
  ], [short, long].map((r) => [r.versions, r.version.median, r.version.p90, r.time.median, r.time.p90, r.reflog.median, r.reflog.p90, r.buildSec]));
  const ratio = (f: (r: typeof short) => number) => fmt(f(long) / f(short));
  console.log(`ratio ${long.versions}/${short.versions} (median): version N ${ratio((r) => r.version.median)}, commit@{t} ${ratio((r) => r.time.median)}, branch@{t} ${ratio((r) => r.reflog.median)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runRefBenchmarks();
