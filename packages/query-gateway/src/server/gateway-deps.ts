import { join, resolve } from 'node:path';
import { HttpClient, type ArmillariaConfig } from '@armillaria/core';
import { RemoteChunkStore, loadHasher } from '@armillaria/chunk-store';
import { ParquetTableFormat, RemoteCatalog, catalogFromConfig } from '@armillaria/catalog';
import { Changelog, EmbeddedChangeBus, NatsChangeBus, type ChangeBus } from '@armillaria/changelog';
import { FsTxnLog, RedisTxnLog, RemoteTxnClient, TxnCoordinator, type TxnLog } from '@armillaria/txn-coordinator';
import { QueryEngine } from '../query-engine.js';
import type { GatewayDeps } from './app.js';
import type { GatewayConfig } from './gateway-config.js';

/** Longest a forwarded gc or verify may run on the catalog service. */
const MAINTENANCE_TIMEOUT_MS = 6 * 60 * 60 * 1000;

export interface OpenedGateway {
  deps: GatewayDeps;
  close(): Promise<void>;
}

/**
 * The gateway's parts from configuration. In-process (default): catalog, coordinator and changelog as
 * libraries over the configured storage (local files embedded; S3 + Redis + NATS distributed). With the
 * service URLs: only the gateway, over RemoteCatalog / RemoteChunkStore / RemoteTxnClient, the changelog
 * reading the catalog remotely and following NATS (or an in-memory bus, which then only replays).
 */
export async function openGatewayDeps(config: ArmillariaConfig, gw: GatewayConfig): Promise<OpenedGateway> {
  const cacheDir = gw.cacheDir ?? join(resolve(config.dataDir), 'query-cache');
  const closers: Array<() => Promise<void>> = [];
  const bus: ChangeBus = config.natsUrl
    ? await NatsChangeBus.connect({ servers: config.natsUrl })
    : await EmbeddedChangeBus.open(gw.catalogUrl ? {} : { dir: join(resolve(config.dataDir), 'changelog') });
  closers.push(() => bus.close());
  let deps: Omit<GatewayDeps, 'engine'> & { engine?: QueryEngine };
  let engineParts: { catalog: GatewayDeps['catalog']; format: ParquetTableFormat; chunks: RemoteChunkStore | Awaited<ReturnType<typeof catalogFromConfig>>['chunks'] };
  if (gw.catalogUrl && gw.chunksUrl && gw.txnUrl) {
    const auth = gw.serviceToken ? { token: gw.serviceToken } : {};
    const catalog = new RemoteCatalog({ baseUrl: gw.catalogUrl, ...auth });
    const chunks = new RemoteChunkStore({ baseUrl: gw.chunksUrl, hasher: await loadHasher(), ...auth });
    const txn = new RemoteTxnClient({ baseUrl: gw.txnUrl, ...auth });
    closers.push(() => catalog.close(), () => chunks.close(), () => txn.close());
    engineParts = { catalog, format: new ParquetTableFormat({ chunks }), chunks };
    // Ready when the services it fronts say they are ready: a cheap probe that does not depend on
    // the contents of any repo (listing repos would make one unreadable repo fail the probe).
    const probes = [gw.catalogUrl, gw.chunksUrl, gw.txnUrl].map((url) => new HttpClient({ baseUrl: url, retries: 0, timeoutMs: 5000, ...auth }));
    deps = {
      catalog, txn, changelog: new Changelog({ catalog, bus }),
      // gc and verify walk the whole store: no retry, and a time limit for a large store, not for a request.
      catalogService: new HttpClient({ baseUrl: gw.catalogUrl, retries: 0, timeoutMs: MAINTENANCE_TIMEOUT_MS, ...auth }),
      ready: async () => {
        await Promise.all(probes.map((probe) => probe.request('/readyz')));
        await bus.ping();
      },
    };
  } else {
    const configured = await catalogFromConfig(config);
    const log: TxnLog = config.mode === 'distributed' && config.redisUrl ? new RedisTxnLog({ url: config.redisUrl }) : new FsTxnLog({ dir: join(resolve(config.dataDir), 'txn') });
    const format = new ParquetTableFormat({ chunks: configured.chunks });
    const txn = new TxnCoordinator({ catalog: configured.catalog, tables: format, log, bus });
    await txn.start();
    closers.push(() => txn.close(), () => log.close(), () => configured.close());
    engineParts = { catalog: configured.catalog, format, chunks: configured.chunks };
    deps = {
      catalog: configured.catalog, txn, changelog: new Changelog({ catalog: configured.catalog, bus }),
      ready: async () => {
        await configured.ready();
        await log.ping();
        await bus.ping();
      },
    };
  }
  const engine = await QueryEngine.open({
    ...engineParts, cacheDir, limits: gw.limits,
    ...(gw.cacheMaxBytes !== undefined ? { cacheMaxBytes: gw.cacheMaxBytes } : {}),
    ...(gw.compactMinChunks !== undefined ? { compaction: gw.compactMinChunks === 0 ? false as const : { minChunks: gw.compactMinChunks } } : {}),
  });
  closers.push(() => engine.close());
  return {
    deps: {
      ...deps,
      engine,
      ...(gw.tokens ? { auth: { tokens: gw.tokens } } : {}),
      protectedBranches: gw.protectedBranches,
    },
    close: async () => {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    },
  };
}
