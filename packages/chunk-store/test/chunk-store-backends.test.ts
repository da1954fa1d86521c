import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { createTestBucket, deleteTestBucket, s3TestConfig } from '@armillaria/testkit';
import {
  FsObjectStore,
  MemoryObjectStore,
  ObjectChunkStore,
  RemoteChunkStore,
  S3ObjectStore,
  buildApp,
  loadHasher,
  type ObjectStore,
} from '../src/index.js';
import { chunkStoreContract, type ChunkStoreFixture } from './chunk-store.contract.js';

const hasS3 = Boolean(process.env.ARMILLARIA_S3_ENDPOINT);

interface Backing {
  objects: ObjectStore;
  cleanup(): Promise<void>;
}

async function fsBacking(): Promise<Backing> {
  const dir = await mkdtemp(join(tmpdir(), 'arm-chunks-'));
  return { objects: new FsObjectStore({ root: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function s3Backing(): Promise<Backing> {
  const s3 = s3TestConfig();
  const bucket = await createTestBucket('chunks');
  // A small multipart threshold so the contract's 12 MiB stream goes through multipart upload.
  const objects = new S3ObjectStore({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket,
    ...s3.credentials,
    multipartThresholdBytes: 6 * 1024 * 1024,
    partSizeBytes: 5 * 1024 * 1024,
  });
  return { objects, cleanup: () => deleteTestBucket(bucket) };
}

async function local(backing: () => Promise<Backing>, readCacheBytes = 0): Promise<ChunkStoreFixture> {
  const hasher = await loadHasher();
  const { objects, cleanup } = await backing();
  return { store: new ObjectChunkStore({ objects, hasher, readCacheBytes }), objects, hasher, cleanup };
}

/** A real listening chunk-store service over `backing`, reached through RemoteChunkStore. */
async function remote(backing: () => Promise<Backing>): Promise<ChunkStoreFixture> {
  const hasher = await loadHasher();
  const { objects, cleanup } = await backing();
  const app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const store = new RemoteChunkStore({ baseUrl: `http://127.0.0.1:${port}`, hasher });
  return {
    store,
    objects,
    hasher,
    cleanup: async () => {
      await app.close();
      await cleanup();
    },
  };
}

chunkStoreContract('memory', () => local(async () => ({ objects: new MemoryObjectStore(), cleanup: async () => {} })));
chunkStoreContract('local disk', () => local(fsBacking));
chunkStoreContract('local disk, read cache', () => local(fsBacking, 1 << 20));
chunkStoreContract('remote -> local disk', () => remote(fsBacking));
describe.skipIf(!hasS3)('on MinIO', () => {
  chunkStoreContract('MinIO', () => local(s3Backing));
  chunkStoreContract('MinIO, read cache', () => local(s3Backing, 1 << 20));
  chunkStoreContract('remote -> MinIO', () => remote(s3Backing));
});
