#!/usr/bin/env node
// The changelog service on its own: config -> catalog (same storage as the catalog service), change bus,
// cursor store -> app -> listen. Embedded mode: objects, refs, the change log and cursors under
// ARMILLARIA_DATA_DIR. Distributed: objects in S3, refs in Redis (or the bucket), events on NATS
// JetStream (ARMILLARIA_NATS_URL; required there), cursors in JetStream too.
import { join, resolve } from 'node:path';
import { InvalidArgumentError, loadConfig } from '@armillaria/core';
import { serviceTokenFromEnv } from '@armillaria/core/server';
import { ObjectChunkStore, loadHasher, objectStoreFromConfig } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ObjectStoreRefStore, ParquetTableFormat, RedisRefStore, type RefStore } from '@armillaria/catalog';
import { EmbeddedChangeBus } from '../backends/embedded-change-bus.js';
import { NatsChangeBus } from '../backends/nats-change-bus.js';
import type { ChangeBus } from '../change-bus.js';
import { Changelog } from '../changelog.js';
import { FsCursorStore, type CursorStore } from '../cursor-store.js';
import { NatsCursorStore } from '../backends/nats-cursor-store.js';
import { buildApp } from './app.js';

const config = loadConfig();
const dataDir = resolve(config.dataDir);
const objects = await objectStoreFromConfig(config);
const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher(), compression: config.chunkCompression });
const refs: RefStore = config.mode === 'embedded'
  ? new FsRefStore({ root: join(dataDir, 'catalog') })
  : config.redisUrl
    ? new RedisRefStore({ url: config.redisUrl })
    : new ObjectStoreRefStore({ objects, prefix: 'catalog/' });
const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
if (config.mode === 'distributed' && !config.natsUrl) {
  throw new InvalidArgumentError('ARMILLARIA_MODE=distributed needs ARMILLARIA_NATS_URL for the changelog', { details: { key: 'ARMILLARIA_NATS_URL' } });
}
const bus: ChangeBus = config.natsUrl
  ? await NatsChangeBus.connect({ servers: config.natsUrl })
  : await EmbeddedChangeBus.open({ dir: join(dataDir, 'changelog') });
// Cursors live next to the events: in JetStream when there is NATS (pods share no disk), else in files.
const cursors: CursorStore = config.natsUrl
  ? await NatsCursorStore.connect({ servers: config.natsUrl })
  : new FsCursorStore(join(dataDir, 'changelog', 'cursors'));
const changelog = new Changelog({ catalog, bus, cursors });
const app = await buildApp({ changelog, logger: true, serviceToken: serviceTokenFromEnv() });
app.log.info({ mode: config.mode, bus: config.natsUrl ? 'nats' : 'embedded' }, 'changelog starting');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void app.close().then(async () => {
      await bus.close();
      await refs.close();
      await chunks.close();
      process.exit(0);
    });
  });
}
await app.listen({ host: config.host, port: config.port });
