// One request id across two services: the catalog, whose chunks live in a chunk-store service reached
// over HTTP, forwards the id of the request it serves on every call it makes to the chunk store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { MemoryObjectStore, ObjectChunkStore, RemoteChunkStore, buildApp as buildChunkApp, loadHasher } from '@armillaria/chunk-store';
import { Catalog, ObjectStoreRefStore, ParquetTableFormat, buildApp as buildCatalogApp } from '@armillaria/catalog';

describe('x-request-id across services (catalog -> chunk-store over HTTP)', () => {
  let chunkApp: FastifyInstance;
  let catalogApp: FastifyInstance;
  /** Request ids the chunk-store saw, in order. */
  const seen: string[] = [];

  beforeAll(async () => {
    const hasher = await loadHasher();
    const objects = new MemoryObjectStore();
    chunkApp = await buildChunkApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects });
    chunkApp.addHook('onRequest', async (request) => {
      seen.push(request.id);
    });
    const address = await chunkApp.listen({ host: '127.0.0.1', port: 0 });
    const chunks = new RemoteChunkStore({ baseUrl: address, hasher });
    const refs = new ObjectStoreRefStore({ objects: new MemoryObjectStore(), prefix: 'catalog/' });
    const catalog = new Catalog({ chunks, refs, format: new ParquetTableFormat({ chunks }) });
    catalogApp = await buildCatalogApp({ catalog });
  });
  afterAll(async () => {
    await catalogApp?.close();
    await chunkApp?.close();
  });

  it('forwards the caller\'s id on every downstream call and echoes it', async () => {
    seen.length = 0;
    const res = await catalogApp.inject({ method: 'POST', url: '/repos', headers: { 'x-request-id': 'trace-create-repo' }, payload: { name: 'web' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['x-request-id']).toBe('trace-create-repo');
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['trace-create-repo']));

    seen.length = 0;
    const table = await catalogApp.inject({
      method: 'POST',
      url: '/repos/web/tables/events',
      headers: { 'x-request-id': 'trace-create-table' },
      payload: { rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }], primaryKey: ['id'] },
    });
    expect(table.statusCode, table.body).toBe(201);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['trace-create-table']));
  });

  it('gives a request without an id a fresh one and uses that one downstream', async () => {
    seen.length = 0;
    const res = await catalogApp.inject({ method: 'POST', url: '/repos', payload: { name: 'other' } });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(seen)).toEqual(new Set([id]));
  });

  it('keeps concurrent requests apart', async () => {
    seen.length = 0;
    const names = Array.from({ length: 6 }, (_, i) => `repo${i}`);
    const replies = await Promise.all(names.map((name) => catalogApp.inject({ method: 'POST', url: '/repos', headers: { 'x-request-id': `trace-${name}` }, payload: { name } })));
    for (const r of replies) expect(r.statusCode, r.body).toBe(201);
    expect(new Set(seen)).toEqual(new Set(names.map((n) => `trace-${n}`)));
  });
});
