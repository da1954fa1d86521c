import { describe } from 'vitest';
import { ObjectChunkStore, S3ObjectStore, loadHasher } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, s3TestConfig, uniqueName } from '@armillaria/testkit';
import { Catalog, ParquetTableFormat, RedisRefStore } from '../src/index.js';
import { catalogContract } from './catalog.contract.js';

// The same behaviour on the distributed backends: chunks in MinIO, refs in Redis (real servers).
const enabled = !!process.env.ARMILLARIA_S3_ENDPOINT && !!process.env.ARMILLARIA_REDIS_URL;

describe.skipIf(!enabled)('distributed backends', () => {
  catalogContract('S3 (MinIO) chunks + Redis refs', async () => {
    const bucket = await createTestBucket('catalog');
    const s3 = s3TestConfig();
    const objects = new S3ObjectStore({
      endpoint: s3.endpoint, region: s3.region, bucket, forcePathStyle: true,
      accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey,
    });
    const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
    const refs = new RedisRefStore({ url: process.env.ARMILLARIA_REDIS_URL as string, keyPrefix: `${uniqueName('catalog')}:` });
    const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
    return {
      catalog,
      cleanup: async () => {
        await refs.close();
        await objects.close();
        await deleteTestBucket(bucket);
      },
    };
  });
});
