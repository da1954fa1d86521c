#!/usr/bin/env node
// The catalog service on its own: config -> stores (catalogFromConfig) -> app -> listen.
// Embedded mode: objects and refs under ARMILLARIA_DATA_DIR. Distributed: objects in S3
// (ARMILLARIA_S3_*), refs in Redis when ARMILLARIA_REDIS_URL is set, else in the same bucket.
import { loadConfig } from '@armillaria/core';
import { serviceTokenFromEnv } from '@armillaria/core/server';
import { catalogFromConfig } from '../catalog-from-config.js';
import { buildApp } from './app.js';

const config = loadConfig();
const configured = await catalogFromConfig(config);
const app = await buildApp({ catalog: configured.catalog, logger: { level: config.logLevel }, ready: configured.ready, serviceToken: serviceTokenFromEnv() });
app.log.info({ mode: config.mode, objects: configured.objects.description }, 'catalog starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(async () => {
      await configured.close();
      process.exit(0);
    });
  });
}
await app.listen({ host: config.host, port: config.port });
