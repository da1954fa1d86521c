/**
 * `npm run bench:dedup`: what a put costs when its chunk is
 * already stored (deduplication), on local disk and MinIO. "fresh" is a chunk written within
 * `refreshAfterMs` (one HEAD: the only path before dedup hits renewed chunks for GC); "old" forces the
 * renewal on every hit (`refreshAfterMs: 0`: HEAD + utimes on disk, HEAD + HEAD + self-copy on S3), the
 * cost paid at most once per chunk per refresh period. Two sizes: 4 KiB chunks are put first (a refused
 * create-only put, then the HEAD: PUT_FIRST_BYTES), 128 KiB chunks are asked about first (HEAD, no upload).
 * Best of 3; chunks: ARMILLARIA_BENCH_DEDUP_CHUNKS (500 of 4 KiB, a fifth as many of 128 KiB).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectStore } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, startServices, stopServices, s3TestConfig } from '@armillaria/testkit';
import { bestOf, printTable, seededBytes } from './bench-util.js';

const count = Number(process.env.ARMILLARIA_BENCH_DEDUP_CHUNKS ?? 500);
const sizes = [
  { label: '4 KiB', chunks: Array.from({ length: count }, (_, i) => seededBytes(4096, i + 1)) },
  { label: '128 KiB', chunks: Array.from({ length: Math.max(1, Math.floor(count / 5)) }, (_, i) => seededBytes(128 * 1024, 100_000 + i)) },
];

async function measure(label: string, objects: ObjectStore): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  for (const size of sizes) rows.push(...(await measureSize(`${label}, ${size.label}`, objects, size.chunks)));
  return rows;
}

async function measureSize(label: string, objects: ObjectStore, chunks: Uint8Array[]): Promise<Array<Array<string | number>>> {
  const count = chunks.length;
  const hasher = await loadHasher();
  const fresh = new ObjectChunkStore({ objects, hasher });
  const old = new ObjectChunkStore({ objects, hasher, refreshAfterMs: 0 });
  await fresh.putBatch(chunks);
  const hashes = await hasher.hashMany(chunks);
  const rows: Array<Array<string | number>> = [];
  for (const [name, store] of [['fresh', fresh], ['old (renewed)', old]] as const) {
    const put = await bestOf(3, async () => {
      for (const c of chunks) await store.put(c);
    });
    const missing = await bestOf(3, () => store.missing(hashes));
    rows.push([label, name, ((put * 1000) / count).toFixed(1), ((missing * 1000) / count).toFixed(1)]);
  }
  return rows;
}

const rows: Array<Array<string | number>> = [];
const dir = await mkdtemp(join(tmpdir(), 'arm-bench-dedup-'));
try {
  rows.push(...(await measure('local disk', new FsObjectStore({ root: dir }))));
} finally {
  await rm(dir, { recursive: true, force: true });
}
const services = process.env.ARMILLARIA_S3_ENDPOINT ? undefined : await startServices({ services: ['s3'] });
try {
  const s3 = s3TestConfig();
  const bucket = await createTestBucket('bench-dedup');
  try {
    rows.push(...(await measure('MinIO', new S3ObjectStore({ endpoint: s3.endpoint, region: s3.region, bucket, ...s3.credentials, forcePathStyle: true }))));
  } finally {
    await deleteTestBucket(bucket);
  }
} finally {
  if (services) await stopServices();
}
printTable(`dedup hit cost, ${count} chunks of 4 KiB and ${sizes[1]!.chunks.length} of 128 KiB, best of 3`, ['backend', 'chunk age', 'put µs/chunk (sequential)', 'missing µs/chunk (batched)'], rows);
