#!/usr/bin/env node
// The chunk-store service on its own: config -> object store -> chunk store -> app -> listen.
import { loadConfig } from '@armillaria/core';
import { serviceTokenFromEnv } from '@armillaria/core/server';
import { loadHasher } from '../load-hasher.js';
import { ObjectChunkStore } from '../object-chunk-store.js';
import { objectStoreFromConfig } from '../object-store-from-config.js';
import { buildApp } from './app.js';

const config = loadConfig();
const objects = await objectStoreFromConfig(config);
const hasher = await loadHasher();
const app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher, compression: config.chunkCompression }), objects, logger: true, serviceToken: serviceTokenFromEnv() });
app.log.info({ objects: objects.description, hasher: hasher.kind }, 'chunk-store starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(() => process.exit(0));
  });
}
await app.listen({ host: config.host, port: config.port });
