/**
 * Armillaria opened the two ways the peers bench measures it, from the libraries directly (the same
 * parts `Armillaria.open` / `armillaria serve` assemble): embedded (objects, refs and txn log on local
 * disk) and distributed (objects in MinIO, refs and txn log in Redis). Queries go through the gateway's
 * `QueryEngine` (DuckDB over the verified local chunk cache), as every SQL read does.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, S3ObjectStore, loadHasher, type ObjectStore } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, RedisRefStore, type RefStore } from '@armillaria/catalog';
import { QueryEngine } from '@armillaria/query-gateway';
import { FsTxnLog, RedisTxnLog, TxnCoordinator, type TxnLog } from '@armillaria/txn-coordinator';

export type Mode = 'embedded' | 'distributed';
export const REPO = 'bench';

export interface ArmSystem {
  readonly catalog: Catalog;
  readonly coordinator: TxnCoordinator;
  readonly engine: QueryEngine;
  readonly objects: ObjectStore;
  /** Bytes of every stored object (chunks, manifests, trees, commits); refs and the query cache excluded. */
  storageBytes(): Promise<number>;
  close(): Promise<void>;
}

export async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

export async function openSystem(mode: Mode, dir: string): Promise<ArmSystem> {
  await mkdir(dir, { recursive: true });
  let objects: ObjectStore;
  let refs: RefStore;
  let log: TxnLog;
  if (mode === 'embedded') {
    objects = new FsObjectStore({ root: join(dir, 'objects') });
    refs = new FsRefStore({ root: join(dir, 'refs') });
    log = new FsTxnLog({ dir: join(dir, 'txn') });
  } else {
    const prefix = `bench-peers-${randomUUID()}`;
    const s3 = new S3ObjectStore({
      endpoint: process.env.ARMILLARIA_S3_ENDPOINT as string, bucket: 'armillaria-bench', prefix: `${prefix}/`,
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
  await catalog.createRepo(REPO);
  const engine = await QueryEngine.open({ catalog, format, chunks, cacheDir: join(dir, 'query-cache'), limits: { timeoutMs: 600_000 } });
  return {
    catalog, coordinator, engine, objects,
    storageBytes: async () => {
      let total = 0;
      for await (const o of objects.list('')) total += o.size;
      return total;
    },
    close: async () => {
      await engine.close();
      await coordinator.close();
      await log.close();
      await catalog.close();
      await refs.close();
      await chunks.close();
    },
  };
}
