/**
 * The storage stack the benches measure, built from the libraries directly (the parts `Armillaria.open` /
 * `armillaria serve` assemble): embedded (objects, refs and txn log on local disk under `dir`) or
 * distributed (objects in MinIO under a fresh prefix, refs and txn log in Redis), read from the
 * ARMILLARIA_S3_* / ARMILLARIA_REDIS_URL variables.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectStore } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, RedisRefStore, type RefStore } from '@armillaria/catalog';
import { FsTxnLog, RedisTxnLog, TxnCoordinator, type TxnLog } from '@armillaria/txn-coordinator';

export type StackMode = 'embedded' | 'distributed';

export interface BenchStack {
  readonly objects: ObjectStore;
  readonly chunks: ObjectChunkStore;
  readonly format: ParquetTableFormat;
  readonly catalog: Catalog;
  readonly coordinator: TxnCoordinator;
  /** Closes everything opened here (not `dir`: the caller owns it). */
  close(): Promise<void>;
}

export async function openBenchStack(mode: StackMode, dir: string, opts: { name: string; bucket: string }): Promise<BenchStack> {
  let objects: ObjectStore;
  let refs: RefStore;
  let log: TxnLog;
  if (mode === 'embedded') {
    objects = new FsObjectStore({ root: join(dir, 'objects') });
    refs = new FsRefStore({ root: join(dir, 'refs') });
    log = new FsTxnLog({ dir: join(dir, 'txn') });
  } else {
    const prefix = `${opts.name}-${randomUUID()}`;
    const s3 = new S3ObjectStore({
      endpoint: process.env.ARMILLARIA_S3_ENDPOINT as string, bucket: opts.bucket, prefix: `${prefix}/`,
      accessKeyId: process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin', secretAccessKey: process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin',
    });
    await s3.ensureBucket();
    objects = s3;
    refs = new RedisRefStore({ url: process.env.ARMILLARIA_REDIS_URL as string, keyPrefix: `${prefix}:refs:` });
    log = new RedisTxnLog({ url: process.env.ARMILLARIA_REDIS_URL as string, prefix: `${prefix}:` });
  }
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
  const format = new ParquetTableFormat({ chunks });
  const catalog = new Catalog({ chunks, refs, format });
  const coordinator = new TxnCoordinator({ catalog, tables: format, log, recoveryIntervalMs: 0 });
  return {
    objects, chunks, format, catalog, coordinator,
    close: async () => {
      await coordinator.close();
      await log.close();
      await catalog.close();
      await refs.close();
      await chunks.close();
    },
  };
}
