#!/usr/bin/env node
// The transaction coordinator on its own: config -> catalog (same storage as the catalog service),
// txn log, change bus -> coordinator (recovery at start and on a timer) -> app -> listen.
// Embedded: txn log under ARMILLARIA_DATA_DIR/txn, events in the embedded changelog. Distributed:
// txn log in Redis (ARMILLARIA_REDIS_URL), events on NATS JetStream when ARMILLARIA_NATS_URL is set.
import { join, resolve } from 'node:path';
import { InvalidArgumentError, loadConfig } from '@armillaria/core';
import { serviceTokenFromEnv } from '@armillaria/core/server';
import { ParquetTableFormat, catalogFromConfig } from '@armillaria/catalog';
import { EmbeddedChangeBus, NatsChangeBus, type ChangeBus } from '@armillaria/changelog';
import { FsTxnLog } from '../logs/fs-txn-log.js';
import { RedisTxnLog } from '../logs/redis-txn-log.js';
import type { TxnLog } from '../txn-log.js';
import { TxnCoordinator } from '../txn-coordinator.js';
import { buildApp } from './app.js';

const config = loadConfig();
const dataDir = resolve(config.dataDir);
if (config.mode === 'distributed' && !config.redisUrl) {
  throw new InvalidArgumentError('ARMILLARIA_MODE=distributed needs ARMILLARIA_REDIS_URL for the transaction log', { details: { key: 'ARMILLARIA_REDIS_URL' } });
}
const configured = await catalogFromConfig(config);
const log: TxnLog = config.mode === 'distributed' ? new RedisTxnLog({ url: config.redisUrl as string }) : new FsTxnLog({ dir: join(dataDir, 'txn') });
const bus: ChangeBus = config.natsUrl ? await NatsChangeBus.connect({ servers: config.natsUrl }) : await EmbeddedChangeBus.open({ dir: join(dataDir, 'changelog') });
const coordinator = new TxnCoordinator({ catalog: configured.catalog, tables: new ParquetTableFormat({ chunks: configured.chunks }), log, bus });
const app = await buildApp({
  txn: coordinator,
  logger: { level: config.logLevel },
  serviceToken: serviceTokenFromEnv(),
  ready: async () => {
    await configured.ready();
    await log.ping();
    await bus.ping();
  },
});
const recovered = await coordinator.start();
app.log.info({ mode: config.mode, recovered }, 'txn-coordinator starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(async () => {
      await coordinator.close();
      await log.close();
      await bus.close();
      await configured.close();
      process.exit(0);
    });
  });
}
await app.listen({ host: config.host, port: config.port });
