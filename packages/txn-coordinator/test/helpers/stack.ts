import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectStore } from '@armillaria/chunk-store';
import { loadConfig } from '@armillaria/core';
import { Catalog, FsRefStore, ParquetTableFormat, RedisRefStore, type RefStore } from '@armillaria/catalog';
import type { ChangeBus } from '@armillaria/changelog';
import { FsTxnLog, RedisTxnLog, TxnCoordinator, type TxnCoordinatorOptions, type TxnLog } from '../../src/index.js';

export interface Stack {
  objects: ObjectStore;
  chunks: ObjectChunkStore;
  catalog: Catalog;
  format: ParquetTableFormat;
  log: TxnLog;
  coordinator: TxnCoordinator;
  close(): Promise<void>;
}

export interface StackOptions extends Partial<Omit<TxnCoordinatorOptions, 'catalog' | 'tables' | 'log'>> {
  /** `embedded`: FsObjectStore + FsRefStore + FsTxnLog under `dir`. `distributed`: MinIO + Redis under `prefix`. */
  mode?: 'embedded' | 'distributed';
  dir: string;
  /** Distributed mode: key prefix shared by every process of one test. */
  prefix?: string;
  /** Distributed mode: the MinIO bucket (default ARMILLARIA_S3_BUCKET or `armillaria`). */
  bucket?: string;
  bus?: ChangeBus;
}

/** The coordinator as an application assembles it; used by tests, child processes and the bench alike. */
export async function openStack(opts: StackOptions): Promise<Stack> {
  const { mode = 'embedded', dir, prefix = 'txn-test', bucket, ...rest } = opts;
  let objects: ObjectStore;
  let refs: RefStore;
  let log: TxnLog;
  if (mode === 'embedded') {
    objects = new FsObjectStore({ root: join(dir, 'objects') });
    refs = new FsRefStore({ root: join(dir, 'refs') });
    log = new FsTxnLog({ dir: join(dir, 'txn') });
  } else {
    const endpoint = process.env.ARMILLARIA_S3_ENDPOINT;
    const redisUrl = process.env.ARMILLARIA_REDIS_URL;
    if (!endpoint || !redisUrl) throw new Error('distributed mode needs ARMILLARIA_S3_ENDPOINT and ARMILLARIA_REDIS_URL');
    const s3 = new S3ObjectStore({
      endpoint, bucket: bucket ?? process.env.ARMILLARIA_S3_BUCKET ?? 'armillaria', prefix: `${prefix}/`,
      accessKeyId: process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin', secretAccessKey: process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin',
    });
    await s3.ensureBucket();
    objects = s3;
    refs = new RedisRefStore({ url: redisUrl, keyPrefix: `${prefix}:refs:` });
    log = new RedisTxnLog({ url: redisUrl, prefix: `${prefix}:` });
  }
  // As catalogFromConfig assembles it (ARMILLARIA_CHUNK_CACHE_BYTES default).
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher(), readCacheBytes: loadConfig({}).chunkCacheBytes });
  const format = new ParquetTableFormat({ chunks });
  const catalog = new Catalog({ chunks, refs, format });
  const coordinator = new TxnCoordinator({ catalog, tables: format, log, ...rest });
  return {
    objects, chunks, catalog, format, log, coordinator,
    close: async () => {
      await coordinator.close();
      await log.close();
      await catalog.close();
      await refs.close();
      await chunks.close();
    },
  };
}
