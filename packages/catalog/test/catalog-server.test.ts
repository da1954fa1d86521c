import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { ARROW_STREAM, buildApp } from '../src/index.js';
import { embeddedCatalog, type EmbeddedCatalog } from './catalog-helpers.js';

describe('catalog service routes (inject)', () => {
  let env: EmbeddedCatalog;
  let app: FastifyInstance;
  beforeAll(async () => {
    env = await embeddedCatalog();
    app = await buildApp({ catalog: env.catalog, ready: async () => undefined });
    await env.catalog.createRepo('web');
    await env.catalog.createTable('web', 't', { rows: [{ id: 1n, v: 'a' }], primaryKey: ['id'] });
  });
  afterAll(async () => {
    await app.close();
    await env.cleanup();
  });

  const expectError = async (method: 'GET' | 'POST' | 'DELETE', url: string, status: number, code: string, payload?: object) => {
    const res = await app.inject({ method, url, ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json()).toMatchObject({ statusCode: status, code });
    return res.json() as { details?: Record<string, unknown> };
  };

  it('answers health and readiness', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toMatchObject({ status: 'ok', service: 'catalog' });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('maps unknown repo, table, branch, ref, version to typed 404s', async () => {
    await expectError('GET', '/repos/nope', 404, 'REPO_NOT_FOUND');
    await expectError('GET', '/repos/web/tables/ghost', 404, 'TABLE_NOT_FOUND');
    await expectError('GET', '/repos/web/branches/ghost/x', 404, 'BRANCH_NOT_FOUND');
    await expectError('GET', '/repos/web/tables/t?ref=nowhere', 404, 'REF_NOT_FOUND');
    await expectError('GET', '/repos/web/tables/t?version=9', 404, 'VERSION_NOT_FOUND');
    await expectError('DELETE', '/repos/web/tags/none', 404, 'TAG_NOT_FOUND');
    await expectError('GET', `/repos/web/commits/${'0'.repeat(64)}`, 404, 'COMMIT_NOT_FOUND');
    await expectError('GET', '/repos/web/nothing-here', 404, 'NOT_FOUND');
  });

  it('maps bad names and arguments to 400s', async () => {
    await expectError('POST', '/repos', 400, 'INVALID_NAME', { name: 'no spaces' });
    await expectError('POST', '/repos', 400, 'INVALID_NAME', {});
    await expectError('POST', '/repos/web/branches', 400, 'INVALID_NAME', { name: 'a/../b' });
    await expectError('GET', '/repos/web/tables/t?version=abc', 400, 'INVALID_ARGUMENT');
    await expectError('POST', '/repos/web/tables/t/frobnicate', 400, 'INVALID_ARGUMENT', { rows: [] });
    await expectError('POST', '/repos/web/tables/t/upsert', 400, 'INVALID_ARGUMENT', { nope: 1 });
    await expectError('POST', '/repos/web/merge', 400, 'INVALID_ARGUMENT', { source: 'main', strategy: 'yolo' });
    await expectError('GET', '/repos/web/tables/t?range=%7Bbad', 400, 'INVALID_ARGUMENT');
    const head = (await app.inject({ url: '/repos/web/resolve' })).json() as { hash: string };
    await expectError('POST', '/repos/web/commits', 400, 'INVALID_ARGUMENT', { branch: 'main', baseCommit: head.hash });
    await expectError('GET', '/repos/web/trees/not-a-hash', 400, 'INVALID_HASH');
    await expectError('GET', `/repos/web/trees/${'a'.repeat(64)}`, 404, 'NOT_FOUND');
  });

  it('maps existing things and stale CAS to 409s', async () => {
    await expectError('POST', '/repos', 409, 'REF_CONFLICT', { name: 'web' });
    await expectError('POST', '/repos/web/branches', 409, 'BRANCH_EXISTS', { name: 'main' });
    const head = (await app.inject({ url: '/repos/web/resolve?ref=main' })).json() as { hash: string; tree: string; parents: string[] };
    const tree = (await app.inject({ url: `/repos/web/trees/${head.tree}` })).json() as object;
    const body = await expectError('POST', '/repos/web/commits', 409, 'REF_CONFLICT', { branch: 'main', baseCommit: head.parents[0], tree, message: 'stale' });
    expect(body.details).toMatchObject({ expected: head.parents[0], actual: head.hash });
  });

  it('takes and returns table data as Arrow IPC streams', async () => {
    const rows = tableFromArrays({ id: Float64Array.from([2, 3]), v: ['b', 'c'] });
    const up = await app.inject({
      method: 'POST', url: '/repos/web/tables/t/upsert?message=arrow', headers: { 'content-type': ARROW_STREAM }, payload: Buffer.from(tableToIPC(rows, 'stream')),
    });
    expect(up.statusCode, up.body).toBe(200);
    expect(up.json()).toMatchObject({ table: 't', version: 2, commit: { message: 'arrow' } });
    const res = await app.inject({ url: '/repos/web/tables/t' });
    expect(res.headers['content-type']).toBe(ARROW_STREAM);
    const table = tableFromIPC(res.rawPayload);
    expect(table.numRows).toBe(3);
    expect(table.getChild('v')?.toArray()).toEqual(['a', 'b', 'c']);
  });
});
