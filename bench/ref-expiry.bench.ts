// Measures what reflog expiry buys FsRefStore (not a test: it prints numbers).
//
//   npm run bench:ref-expiry -- [N] [commits|branches]   (node --expose-gc ... bench/ref-expiry.bench.ts)
//
// Writes N compare-and-swaps (default 200,000) into a fresh store on disk (under the OS temp dir). `commits`
// (default) as the transaction coordinator does: each commit is one branch move (100 branches) and one
// commit-index ref create; `branches`: every CAS moves one of 100 branches. Reflog times are one second
// apart per commit. Then expires
// the reflog twice: keeping the newest 10% of the time span, then keeping only each ref's newest entry.
// After each step it reports the log's size and what a process opening the store pays: open time (read and
// index the whole log), heap after a full GC and RSS, measured in a fresh child process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsRefStore } from '@armillaria/catalog';

const hash = (n: number): string => n.toString(16).padStart(64, '0');
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

if (process.argv[2] === '--open') {
  // Child: open the store, read once, report.
  const root = process.argv[3] as string;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const refs = new FsRefStore({ root });
  const branches = await refs.list('repos/bench/branches/');
  const openMs = performance.now() - t0;
  gc?.();
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ openMs, heapUsed: m.heapUsed - base, rss: m.rss, refs: (await refs.list('')).length, branches: branches.length }));
  await refs.close();
  process.exit(0);
}

const N = Number(process.argv[2] ?? 200_000);
const withIndex = (process.argv[3] ?? 'commits') === 'commits';
const root = mkdtempSync(join(tmpdir(), 'armillaria-ref-expiry-'));
const BRANCHES = 100;
const T0 = 1_700_000_000_000;

/** Bytes up to the end of the last record (the rest of the file is preallocated zeros). */
function logBytes(): number {
  const bytes = readFileSync(join(root, 'refs.log'));
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

function probe(label: string): void {
  const log = statSync(join(root, 'refs.log'));
  const child = JSON.parse(
    execFileSync(process.execPath, ['--conditions=@armillaria/source', '--import', 'tsx', '--expose-gc', fileURLToPath(import.meta.url), '--open', root], { encoding: 'utf8' }),
  ) as { openMs: number; heapUsed: number; rss: number; refs: number };
  console.log(
    `${label.padEnd(26)} log ${mb(logBytes()).padStart(9)} (file ${mb(log.size)}) | fresh process: open ${child.openMs.toFixed(0).padStart(5)} ms, `
      + `heap +${mb(child.heapUsed)}, rss ${mb(child.rss)}, ${child.refs} refs`,
  );
}

const refs = new FsRefStore({ root });
const heads = new Array<number>(BRANCHES).fill(0);
const commits = withIndex ? N / 2 : N;
const started = performance.now();
// One commit per branch in flight at a time (200 CASes per round, batched into few fdatasyncs).
for (let c = 0; c < commits; c += BRANCHES) {
  const batch: Promise<void>[] = [];
  for (let k = c; k < Math.min(commits, c + BRANCHES); k++) {
    const b = k % BRANCHES;
    const id = k + 1;
    const time = T0 + k * 1000;
    const prev = heads[b] as number;
    heads[b] = id;
    batch.push(refs.compareAndSwap(`repos/bench/branches/b${b}`, prev === 0 ? null : hash(prev), hash(id), { time, message: `commit ${id}`, author: 'bench' }));
    const h = hash(id);
    if (withIndex) batch.push(refs.compareAndSwap(`repos/bench/commits/${h.slice(62, 64)}/${h}`, null, h, { time, message: 'index' }));
  }
  await Promise.all(batch);
}
const writeMs = performance.now() - started;
console.log(`${N} CAS (${commits} commits: ${withIndex ? 'branch move + commit-index create' : 'branch move'}) in ${(writeMs / 1000).toFixed(1)} s; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; dir ${root}`);
(globalThis as { gc?: () => void }).gc?.();
console.log(`writer process heap ${mb(process.memoryUsage().heapUsed)}, rss ${mb(process.memoryUsage().rss)}`);
probe('before expiry');

const span = (commits - 1) * 1000;
for (const [label, before] of [['expire: keep newest 10%', T0 + Math.floor(span * 0.9)], ['expire: keep newest entry', T0 + span + 1]] as const) {
  const t = performance.now();
  const r = await refs.expireReflog(before);
  const ms = performance.now() - t;
  (globalThis as { gc?: () => void }).gc?.();
  console.log(`${label}: removed ${r.entriesRemoved} entries, forgot ${r.refsForgotten} refs, in ${ms.toFixed(0)} ms (lock held, log rewritten); writer heap ${mb(process.memoryUsage().heapUsed)}, rss ${mb(process.memoryUsage().rss)}`);
  probe(`after ${label.slice(8)}`);
}
await refs.close();
rmSync(root, { recursive: true, force: true });
