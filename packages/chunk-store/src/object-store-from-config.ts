import { resolve } from 'node:path';
import type { ArmillariaConfig } from '@armillaria/core';
import type { ObjectStore } from './object-store.js';
import { FsObjectStore } from './backends/fs-object-store.js';
import { S3ObjectStore } from './backends/s3-object-store.js';

/**
 * The object store a configuration names: local files under `dataDir` in embedded mode, the S3
 * bucket in distributed mode (created if missing, so a fresh MinIO works out of the box).
 */
export async function objectStoreFromConfig(config: ArmillariaConfig): Promise<ObjectStore> {
  if (config.mode === 'embedded') return new FsObjectStore({ root: resolve(config.dataDir) });
  const s3 = new S3ObjectStore({
    ...(config.s3.endpoint ? { endpoint: config.s3.endpoint } : {}),
    region: config.s3.region,
    bucket: config.s3.bucket,
    prefix: config.s3.prefix,
    ...(config.s3.accessKeyId ? { accessKeyId: config.s3.accessKeyId } : {}),
    ...(config.s3.secretAccessKey ? { secretAccessKey: config.s3.secretAccessKey } : {}),
    forcePathStyle: config.s3.forcePathStyle,
  });
  await s3.ensureBucket();
  return s3;
}
