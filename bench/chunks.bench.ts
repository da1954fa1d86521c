/**
 * `npm run bench:chunks`: put/get throughput of the chunk store for 64 KiB, 1 MiB and 8 MiB chunks,
 * on local disk and on MinIO, one call per chunk vs one batch call. MinIO is started by the test
 * harness when ARMILLARIA_S3_ENDPOINT is not set. Data per case: ARMILLARIA_BENCH_CHUNKS_MIB (default 128).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ChunkStore, type ObjectStore } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, startServices, stopServices, s3TestConfig } from '@armillaria/testkit';
import { envInt, mbPerSec, printTable, seededBytes, timeIt } from './bench-util.js';

const totalMiB = envInt('ARMILLARIA_BENCH_CHUNKS_MIB', 128);
const sizes = [64 * 1024, 1024 * 1024, 8 * 1024 * 1024];
let seed = 1;

function makeChunks(size: number): Uint8Array[] {
  const count = Math.max(4, Math.floor((totalMiB * 1024 * 1024) / size));
  // One random block, varied per chunk by a counter in the first bytes: unique hashes, cheap to make.
  const base = seededBytes(size, seed++);
  return Array.from({ length: count }, (_, i) => {
    const c = Uint8Array.from(base);
    new DataView(c.buffer).setUint32(0, i);
    new DataView(c.buffer).setUint32(4, seed);
    return c;
  });
}

async function runBackend(label: string, open: () => Promise<{ objects: ObjectStore; cleanup: () => Promise<void> }>): Promise<Array<Array<string | number>>> {
  const hasher = await loadHasher();
  const rows: Array<Array<string | number>> = [];
  for (const size of sizes) {
    for (const mode of ['single', 'batch'] as const) {
      const { objects, cleanup } = await open();
      const store: ChunkStore = new ObjectChunkStore({ objects, hasher });
      try {
        const chunks = makeChunks(size);
        const bytes = chunks.length * size;
        const put = await timeIt(async () => {
          if (mode === 'batch') return store.putBatch(chunks);
          const out = [];
          for (const c of chunks) out.push(await store.put(c));
          return out;
        });
        const hashes = put.value;
        const get = await timeIt(async () => {
          if (mode === 'batch') return store.getBatch(hashes);
          for (const h of hashes) await store.get(h);
          return [];
        });
        rows.push([
          label, `${size / 1024} KiB`, mode, chunks.length,
          mbPerSec(bytes, put.ms), chunks.length / (put.ms / 1000),
          mbPerSec(bytes, get.ms), chunks.length / (get.ms / 1000),
        ]);
      } finally {
        await cleanup();
      }
    }
  }
  return rows;
}

const rows: Array<Array<string | number>> = [];
rows.push(
  ...(await runBackend('local disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arm-bench-chunks-'));
    return { objects: new FsObjectStore({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  })),
);
const withMinio = process.env.ARMILLARIA_BENCH_BACKENDS !== 'local';
const services = !withMinio || process.env.ARMILLARIA_S3_ENDPOINT ? undefined : await startServices({ services: ['s3'] });
if (withMinio) try {
  const s3 = s3TestConfig();
  rows.push(
    ...(await runBackend('MinIO', async () => {
      const bucket = await createTestBucket('bench-chunks');
      const objects = new S3ObjectStore({ endpoint: s3.endpoint, region: s3.region, bucket, ...s3.credentials, forcePathStyle: true });
      return { objects, cleanup: () => deleteTestBucket(bucket) };
    })),
  );
} finally {
  if (services) await stopServices();
}

printTable(`chunk store throughput (${totalMiB} MiB per case, hasher ${(await loadHasher()).kind})`,
  ['backend', 'chunk', 'calls', 'chunks', 'put MB/s', 'put chunks/s', 'get MB/s', 'get chunks/s'], rows);
for (const backend of ['local disk', 'MinIO']) {
  for (const size of sizes) {
    const single = rows.find((r) => r[0] === backend && r[1] === `${size / 1024} KiB` && r[2] === 'single');
    const batch = rows.find((r) => r[0] === backend && r[1] === `${size / 1024} KiB` && r[2] === 'batch');
    if (single && batch) console.log(`${backend} ${size / 1024} KiB: batch put ${((batch[4] as number) / (single[4] as number)).toFixed(2)}x single, batch get ${((batch[6] as number) / (single[6] as number)).toFixed(2)}x single`);
  }
}
