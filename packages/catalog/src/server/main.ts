#!/usr/bin/env node
// The catalog service on its own: config -> object store, chunk store, ref store, table format -> app -> listen.
// Embedded mode: objects and refs under ARMILLARIA_DATA_DIR. Distributed: objects in S3
// (ARMILLARIA_S3_*), refs in Redis when ARMILLARIA_REDIS_URL is set, else in the same bucket.
import { join, resolve } from 'node:path';
import { loadConfig } from '@armillaria/core';
import { ObjectChunkStore, loadHasher, objectStoreFromConfig } from '@armillaria/chunk-store';
import { Catalog } from '../catalog.js';
import { FsRefStore } from '../refs/fs-ref-store.js';
import { RedisRefStore } from '../refs/redis-ref-store.js';
import { ObjectStoreRefStore } from '../refs/object-store-ref-store.js';
import { ParquetTableFormat } from '../table-format/parquet-table-format.js';
import type { RefStore } from '../refs/ref-store.js';
import { buildApp } from './app.js';

const config = loadConfig();
const objects = await objectStoreFromConfig(config);
const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
const refs: RefStore = config.mode === 'embedded'
  ? new FsRefStore({ root: join(resolve(config.dataDir), 'catalog') })
  : config.redisUrl
    ? new RedisRefStore({ url: config.redisUrl })
    : new ObjectStoreRefStore({ objects, prefix: 'catalog/' });
const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
const app = await buildApp({
  catalog,
  logger: { level: config.logLevel },
  ready: async () => {
    await objects.ping();
    await refs.get('catalog/readyz-probe');
  },
});
app.log.info({ mode: config.mode, objects: objects.description }, 'catalog starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(async () => {
      await refs.close();
      await chunks.close();
      process.exit(0);
    });
  });
}
await app.listen({ host: config.host, port: config.port });
