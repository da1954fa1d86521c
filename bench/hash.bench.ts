/**
 * `npm run bench:hash`: BLAKE3 throughput of the native addon (1 and 2 rayon threads; one big buffer
 * via update_rayon and the same bytes as 1 MiB buffers via hashMany), the WASM fallback, Node's
 * SHA-256, and the `b3sum` command (Debian package) on the same bytes in a file in the page cache.
 * Best of 3 runs each. Data: ARMILLARIA_BENCH_HASH_MIB MiB (default 256) of seeded random bytes.
 * Goals: native >= 0.9x b3sum at the same thread count, >= 5x the WASM fallback.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeHasher, WasmHasher, hasherInfo } from '@armillaria/chunk-store';
import { bestOf, envInt, fmt, mbPerSec, printTable, seededBytes } from './bench-util.js';

const RUNS = 3;
const mib = envInt('ARMILLARIA_BENCH_HASH_MIB', 256);
const bytes = mib * 1024 * 1024;
const data = seededBytes(bytes, 0xb1a4e3);
const slices = Array.from({ length: Math.ceil(bytes / (1 << 20)) }, (_, i) => data.subarray(i << 20, (i + 1) << 20));

interface Row {
  name: string;
  threads: number;
  ms: number;
}
const rows: Row[] = [];
let expected: string | undefined;

/** Every BLAKE3 contender must produce b3sum's hash, or its speed means nothing. */
function check(name: string, hash: string): void {
  if (expected !== undefined && hash !== expected) throw new Error(`${name} hashed to ${hash}, b3sum says ${expected}`);
}

async function measure(name: string, threads: number, fn: () => Promise<string> | string): Promise<void> {
  check(name, await fn()); // also warms up (pools built, WASM compiled)
  const ms = await bestOf(RUNS, async () => {
    await fn();
  });
  rows.push({ name, threads, ms });
  process.stderr.write(`  ${name} (${threads} thr): ${fmt(mbPerSec(bytes, ms))} MB/s\n`);
}

function b3sum(file: string, threads?: number): string {
  const args = [...(threads ? ['--num-threads', String(threads)] : []), '--no-names', file];
  const res = spawnSync('b3sum', args, { encoding: 'utf8' });
  if (res.error || res.status !== 0) throw new Error(`b3sum ${args.join(' ')} failed: ${res.error?.message ?? res.stderr}`);
  return res.stdout.trim();
}

async function main(): Promise<void> {
  console.log(`hash benchmark: ${mib} MiB seeded random data, best of ${RUNS}, ${availableParallelism()} CPUs, node ${process.version}`);
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-hash-bench-'));
  try {
    const file = join(dir, 'data.bin');
    await writeFile(file, data);
    expected = b3sum(file); // also pulls the file into the page cache
    await measure('b3sum --num-threads 1 (file, page cache)', 1, () => b3sum(file, 1));
    await measure('b3sum (file, page cache)', availableParallelism(), () => b3sum(file));
    // The native rows use 1 and 2 threads: give them a b3sum peer on machines that are not 2-core.
    if (availableParallelism() !== 2) await measure('b3sum --num-threads 2 (file, page cache)', 2, () => b3sum(file, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const info = hasherInfo();
  if (info.nativeAvailable) {
    const native = NativeHasher.load();
    for (const threads of [1, 2]) {
      await measure('native, one buffer (update_rayon)', threads, async () => (await native.hashManyWithThreads([data], threads))[0]!);
      await measure('native, 1 MiB buffers (hashMany)', threads, async () => {
        const hashes = await native.hashManyWithThreads(slices, threads);
        return hashes.length === slices.length ? expected! : 'wrong count';
      });
    }
    await measure('native hash() sync, main thread', 1, () => native.hash(data));
  } else {
    console.log(`!! native addon unavailable (${info.nativeError}); native rows skipped`);
  }
  const wasm = await WasmHasher.load();
  await measure('wasm fallback hash() (hash-wasm)', 1, () => wasm.hash(data));
  await measure('node:crypto sha256 (not BLAKE3)', 1, () => {
    createHash('sha256').update(data).digest('hex');
    return expected!;
  });

  const speed = (r: Row): number => mbPerSec(bytes, r.ms);
  const b3 = (threads: number): Row | undefined => rows.find((r) => r.name.startsWith('b3sum') && r.threads === threads);
  const wasmRow = rows.find((r) => r.name.startsWith('wasm'))!;
  printTable(
    `BLAKE3 throughput, ${mib} MiB (MB = MiB)`,
    ['implementation', 'threads', 'MB/s', 'x b3sum (same threads)', 'x wasm'],
    rows.map((r) => [r.name, String(r.threads), speed(r), b3(r.threads) ? speed(r) / speed(b3(r.threads)!) : '-', speed(r) / speed(wasmRow)]),
  );

  await cdcTable(info.nativeAvailable ? NativeHasher.load() : undefined, wasm);

  const nativeRows = rows.filter((r) => r.name.startsWith('native,'));
  if (nativeRows.length) {
    for (const threads of [1, 2]) {
      const best = nativeRows.filter((r) => r.threads === threads).reduce((a, b) => (a.ms < b.ms ? a : b));
      const vsB3 = speed(best) / speed(b3(threads)!);
      const vsWasm = speed(best) / speed(wasmRow);
      console.log(
        `goal check, ${threads} thread(s): native ${fmt(vsB3)}x b3sum (goal >= 0.9: ${vsB3 >= 0.9 ? 'met' : 'MISSED'}), ` +
          `${fmt(vsWasm)}x wasm (goal >= 5: ${vsWasm >= 5 ? 'met' : 'MISSED'})`,
      );
    }
  }
}

/** Content-defined chunking speed at the default-ish params: native (Rust) vs the JS fallback. */
async function cdcTable(native: NativeHasher | undefined, wasm: WasmHasher): Promise<void> {
  const params = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 };
  const cdcRows: Array<Array<string | number>> = [];
  let nativeLengths: number[] | undefined;
  for (const [name, h] of [['native', native], ['wasm fallback (JS)', wasm]] as const) {
    if (!h) continue;
    const lengths = h.cdcChunkLengths(data, params);
    if (nativeLengths && JSON.stringify(lengths) !== JSON.stringify(nativeLengths)) throw new Error(`${name} CDC boundaries differ from native`);
    nativeLengths ??= lengths;
    const ms = await bestOf(RUNS, async () => {
      h.cdcChunkLengths(data, params);
    });
    cdcRows.push([name, mbPerSec(bytes, ms), lengths.length, bytes / lengths.length / 1024]);
  }
  printTable(`CDC (min 16 KiB, avg 64 KiB, max 256 KiB), ${mib} MiB`, ['implementation', 'MB/s', 'chunks', 'mean KiB'], cdcRows);
}

await main();
