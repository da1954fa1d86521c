import { join, resolve } from 'node:path';
import type { ArmillariaConfig } from '@armillaria/core';
import { ObjectChunkStore, loadHasher, objectStoreFromConfig, type ChunkStore, type ObjectStore } from '@armillaria/chunk-store';
import { Catalog } from './catalog.js';
import { FsRefStore } from './refs/fs-ref-store.js';
import { RedisRefStore } from './refs/redis-ref-store.js';
import { ObjectStoreRefStore } from './refs/object-store-ref-store.js';
import { ParquetTableFormat } from './table-format/parquet-table-format.js';
import type { RefStore } from './refs/ref-store.js';

export interface ConfiguredCatalog {
  catalog: Catalog;
  objects: ObjectStore;
  chunks: ChunkStore;
  refs: RefStore;
  /** Throws when the object store or the ref store cannot be reached (for /readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The catalog a configuration names, so every process opening the same data finds the same refs.
 * Embedded: objects under `dataDir` (chunk-store layout), refs under `dataDir/catalog`. Distributed:
 * objects in the S3 bucket, refs in Redis when `redisUrl` is set, else in the bucket under `catalog/`.
 */
export async function catalogFromConfig(config: ArmillariaConfig): Promise<ConfiguredCatalog> {
  const objects = await objectStoreFromConfig(config);
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher(), readCacheBytes: config.chunkCacheBytes, compression: config.chunkCompression });
  const refs: RefStore = config.mode === 'embedded'
    ? new FsRefStore({ root: join(resolve(config.dataDir), 'catalog') })
    : config.redisUrl
      ? new RedisRefStore({ url: config.redisUrl })
      : new ObjectStoreRefStore({ objects, prefix: 'catalog/' });
  const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
  return {
    catalog, objects, chunks, refs,
    ready: async () => {
      await objects.ping();
      await refs.get('catalog/readyz-probe');
    },
    close: async () => {
      await catalog.close();
      await refs.close();
      await chunks.close();
    },
  };
}
