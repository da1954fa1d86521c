/**
 * ARMILLARIA_SERVICE_TOKEN between the gateway and the internal services: each service given the token
 * refuses callers without it (missing, wrong, other scheme) on every route but the probes and /metrics,
 * accepts it, and never logs it; the gateway's remote clients send it, so the whole stack works through
 * the gateway with the services locked.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, loadConfig } from '@armillaria/core';
import { serviceTokenFromEnv } from '@armillaria/core/server';
import { FsObjectStore, ObjectChunkStore, RemoteChunkStore, buildApp as chunkApp, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat, RemoteCatalog, buildApp as catalogApp } from '@armillaria/catalog';
import { Changelog, EmbeddedChangeBus, buildApp as changelogApp } from '@armillaria/changelog';
import { FsTxnLog, RemoteTxnClient, TxnCoordinator, buildApp as txnApp } from '@armillaria/txn-coordinator';
import { buildApp as gatewayApp, loadGatewayConfig, openGatewayDeps } from '@armillaria/query-gateway';
import { Armillaria } from '@armillaria/sdk';
import { tempDir, type TempDir } from '@armillaria/testkit';

const TOKEN = 'svc-tok-3f9a1c0b7e5d42a8b6c1d0e9f8a7b6c5';
type Service = 'chunk-store' | 'catalog' | 'txn-coordinator' | 'changelog';

/** One data route per service, answered 200 once the caller is let in. */
const PROBE: Record<Service, { method: 'GET' | 'POST'; url: string; payload?: unknown }> = {
  'chunk-store': { method: 'POST', url: '/chunks/missing', payload: { hashes: [] } },
  catalog: { method: 'GET', url: '/repos' },
  'txn-coordinator': { method: 'GET', url: `/txn/${'0'.repeat(32)}` },
  changelog: { method: 'GET', url: `/repos/r/commits/${'0'.repeat(64)}` },
};

describe('service token between the gateway and the services', () => {
  let dir: TempDir;
  const apps = new Map<Service, FastifyInstance>();
  const logs: string[] = [];
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    dir = tempDir('service-token');
    const logger = { level: 'trace', stream: new Writable({ write: (chunk, _enc, done) => { logs.push(String(chunk)); done(); } }) };
    const chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: join(dir.path, 'objects') }), hasher: await loadHasher() });
    const format = new ParquetTableFormat({ chunks });
    const refs = new FsRefStore({ root: join(dir.path, 'refs') });
    const catalog = new Catalog({ chunks, refs, format });
    const log = new FsTxnLog({ dir: join(dir.path, 'txn') });
    const bus = await EmbeddedChangeBus.open({ dir: join(dir.path, 'bus') });
    const txn = new TxnCoordinator({ catalog, tables: format, log, bus, recoveryIntervalMs: 0 });
    await txn.start();
    closers.push(async () => {
      await txn.close();
      await log.close();
      await bus.close();
      await catalog.close();
      await refs.close();
      await chunks.close();
    });
    apps.set('chunk-store', await chunkApp({ chunks, serviceToken: TOKEN }));
    apps.set('catalog', await catalogApp({ catalog, serviceToken: TOKEN, logger }));
    apps.set('txn-coordinator', await txnApp({ txn, serviceToken: TOKEN }));
    apps.set('changelog', await changelogApp({ changelog: new Changelog({ catalog, bus }), serviceToken: TOKEN }));
    for (const app of apps.values()) {
      await app.listen({ host: '127.0.0.1', port: 0 });
      closers.unshift(() => app.close());
    }
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await dir?.cleanup();
  });

  const url = (s: Service): string => `http://127.0.0.1:${(apps.get(s)!.server.address() as { port: number }).port}`;

  for (const service of ['chunk-store', 'catalog', 'txn-coordinator', 'changelog'] as const) {
    it(`${service}: refuses a missing, wrong or non-bearer token with 401 UNAUTHORIZED and accepts the right one`, async () => {
      const app = apps.get(service)!;
      const probe = PROBE[service];
      const send = (authorization?: string, target = probe.url) => app.inject({
        method: probe.method, url: target, ...(probe.payload !== undefined ? { payload: probe.payload as object } : {}),
        ...(authorization !== undefined ? { headers: { authorization } } : {}),
      });
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
        const res = await send(authorization);
        expect(res.statusCode, String(authorization)).toBe(401);
        expect(res.json()).toMatchObject({ statusCode: 401, code: ErrorCode.Unauthorized, error: 'Unauthorized' });
        expect(res.body).not.toContain(TOKEN);
      }
      // An unknown route does not reveal itself to a caller without the token.
      expect((await send(undefined, '/no/such/route')).statusCode).toBe(401);
      const ok = await send(`Bearer ${TOKEN}`);
      expect(ok.statusCode, ok.body).not.toBe(401);
      expect(ok.json().code).not.toBe(ErrorCode.Unauthorized);
      // Probes and scraping stay open (kubelet and Prometheus carry no token).
      for (const path of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
    });
  }

  it('the remote clients send the token; without it they get UNAUTHORIZED', async () => {
    const hasher = await loadHasher();
    const hash = await new RemoteChunkStore({ baseUrl: url('chunk-store'), hasher, token: TOKEN }).put(new TextEncoder().encode('hello'));
    expect(await new RemoteChunkStore({ baseUrl: url('chunk-store'), hasher, token: TOKEN }).missing([hash])).toEqual([]);
    await expect(new RemoteChunkStore({ baseUrl: url('chunk-store'), hasher, retries: 0 }).missing([hash])).rejects.toMatchObject({ code: ErrorCode.Unauthorized });
    await expect(new RemoteCatalog({ baseUrl: url('catalog'), token: TOKEN }).listRepos()).resolves.toBeInstanceOf(Array);
    await expect(new RemoteCatalog({ baseUrl: url('catalog'), token: 'nope', retries: 0 }).listRepos()).rejects.toMatchObject({ code: ErrorCode.Unauthorized });
    await expect(new RemoteTxnClient({ baseUrl: url('txn-coordinator'), retries: 0 }).status('0'.repeat(32))).rejects.toMatchObject({ code: ErrorCode.Unauthorized });
  });

  it('a gateway configured with the token works end to end in front of the locked services', async () => {
    const env = {
      ARMILLARIA_CATALOG_URL: url('catalog'), ARMILLARIA_CHUNKS_URL: url('chunk-store'), ARMILLARIA_TXN_URL: url('txn-coordinator'),
      ARMILLARIA_SERVICE_TOKEN: TOKEN,
    };
    expect(serviceTokenFromEnv(env)).toBe(TOKEN);
    const opened = await openGatewayDeps(loadConfig({}, { dataDir: join(dir.path, 'gateway') }), loadGatewayConfig(env));
    const gateway = await gatewayApp({ ...opened.deps, logger: false });
    await gateway.listen({ host: '127.0.0.1', port: 0 });
    const arm = await Armillaria.connect(`http://127.0.0.1:${(gateway.server.address() as { port: number }).port}`, { repo: 'tok' });
    try {
      await arm.writeTable('t', [{ id: 1, name: 'a' }, { id: 2, name: 'b' }], { primaryKey: ['id'] });
      await arm.transaction(async (tx) => {
        await tx.appendRows('t', [{ id: 3, name: 'c' }]);
      });
      expect((await arm.query('SELECT id, name FROM t ORDER BY id')).rows).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }]);
    } finally {
      await arm.close();
      await gateway.close();
      await opened.close();
    }
    // The catalog logged every request at trace level; the token is in none of them.
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('an empty ARMILLARIA_SERVICE_TOKEN means no check, not a token of ""', () => {
    expect(serviceTokenFromEnv({ ARMILLARIA_SERVICE_TOKEN: '' })).toBeUndefined();
    expect(serviceTokenFromEnv({})).toBeUndefined();
  });
});
