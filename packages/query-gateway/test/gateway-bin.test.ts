import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnNode, uniqueName, type NodeProcess } from '@armillaria/testkit';

const main = fileURLToPath(new URL('../src/server/main.ts', import.meta.url));
const ADMIN = 'admin-secret-token';
const READER = 'reader-secret-token';

async function startService(path: string, env: Record<string, string>): Promise<{ proc: NodeProcess; url: string }> {
  const proc = spawnNode(path, { env: { ARMILLARIA_HOST: '127.0.0.1', ARMILLARIA_PORT: '0', ARMILLARIA_LOG_LEVEL: 'info', ...env } });
  const line = await proc.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/, { timeoutMs: 60_000 });
  const port = /:(\d+)/.exec(line.slice(line.indexOf('127.0.0.1')))?.[1];
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function start(env: Record<string, string>): Promise<{ proc: NodeProcess; url: string }> {
  const proc = spawnNode(main, {
    env: {
      ARMILLARIA_HOST: '127.0.0.1', ARMILLARIA_PORT: '0', ARMILLARIA_LOG_LEVEL: 'info',
      ARMILLARIA_GATEWAY_TOKENS: JSON.stringify([{ token: ADMIN, name: 'admin', repos: { '*': 'admin' } }, { token: READER, name: 'reader', repos: { '*': 'read' } }]),
      ARMILLARIA_GATEWAY_PROTECTED_BRANCHES: JSON.stringify({ '*': ['main'] }),
      ...env,
    },
  });
  const line = await proc.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/, { timeoutMs: 60_000 });
  const port = /:(\d+)/.exec(line.slice(line.indexOf('127.0.0.1')))?.[1];
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function call(url: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** The seed story over HTTP against the real bin: tokens, a protected main, a branch, a merge, SQL over versions. */
async function story(url: string, repo: string): Promise<void> {
  expect((await call(url, 'POST', '/repos', READER, { name: repo })).status).toBe(403);
  expect((await call(url, 'POST', '/repos', ADMIN, { name: repo })).status).toBe(201);
  expect((await call(url, 'POST', `/repos/${repo}/tables/users`, ADMIN, { rows: [{ id: 1, score: 10 }], primaryKey: ['id'] })).json.code).toBe('BRANCH_PROTECTED');
  expect((await call(url, 'POST', `/repos/${repo}/branches`, ADMIN, { name: 'dev' })).status).toBe(201);
  // A JSON create reads its branch from the body: ?branch= is not what it writes, so main is still refused.
  expect((await call(url, 'POST', `/repos/${repo}/tables/users?branch=dev`, ADMIN, { rows: [{ id: 1, score: 10 }], primaryKey: ['id'] })).json.code).toBe('BRANCH_PROTECTED');
  expect((await call(url, 'POST', `/repos/${repo}/tables/users`, ADMIN, { rows: [{ id: 1, score: 10 }, { id: 2, score: 20 }], primaryKey: ['id'], branch: 'dev' })).status).toBe(201);
  expect((await call(url, 'POST', `/repos/${repo}/tables/users/upsert?branch=dev`, ADMIN, { rows: [{ id: 2, score: 30 }] })).status).toBe(200);
  expect((await call(url, 'POST', `/repos/${repo}/merge`, ADMIN, { source: 'dev', into: 'main' })).status).toBe(200);
  const now = await call(url, 'POST', `/repos/${repo}/sql`, READER, { sql: 'SELECT sum(score) AS s FROM users' });
  expect(now.json.rows).toEqual([{ s: 40 }]);
  const v1 = await call(url, 'POST', `/repos/${repo}/sql`, READER, { sql: 'SELECT sum(score) AS s FROM users', versions: { users: 1 } });
  expect(v1.json.rows).toEqual([{ s: 30 }]);
  expect((await call(url, 'POST', `/repos/${repo}/sql`, 'wrong-token-xyz', { sql: 'SELECT 1' })).status).toBe(401);
  expect((await call(url, 'POST', `/repos/${repo}/tables/users/upsert?branch=dev`, READER, { rows: [{ id: 3, score: 1 }] })).status).toBe(403);
  expect((await call(url, 'GET', '/docs/openapi.json', undefined)).json.openapi).toBe('3.1.0');
}

describe('gateway bin (embedded: every service in-process)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the seed story over HTTP from ARMILLARIA_DATA_DIR', async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-gateway-bin-'));
    const { proc, url } = await start({ ARMILLARIA_MODE: 'embedded', ARMILLARIA_DATA_DIR: dir });
    try {
      await story(url, 'demo');
    } finally {
      await proc.stop();
    }
  });
});

const distributed = !!process.env.ARMILLARIA_S3_ENDPOINT && !!process.env.ARMILLARIA_REDIS_URL && !!process.env.ARMILLARIA_NATS_URL;
describe.skipIf(!distributed)('gateway bin (distributed: MinIO + Redis + NATS)', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the seed story with chunks in S3, refs and txn log in Redis, events on NATS', async () => {
    dir = await mkdtemp(join(tmpdir(), 'armillaria-gateway-dist-'));
    const bucket = uniqueName('gateway-bin').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 60);
    const { proc, url } = await start({
      ARMILLARIA_MODE: 'distributed',
      ARMILLARIA_DATA_DIR: dir,
      ARMILLARIA_S3_BUCKET: bucket,
      ARMILLARIA_S3_ACCESS_KEY: process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin',
      ARMILLARIA_S3_SECRET_KEY: process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin',
    });
    try {
      await story(url, uniqueName('dist').replace(/[^A-Za-z0-9_.-]/g, '-'));
    } finally {
      await proc.stop();
    }
  });

  it('runs only the gateway in front of the catalog, chunk-store and txn services (each its own process)', async () => {
    dir ||= await mkdtemp(join(tmpdir(), 'armillaria-gateway-dist-'));
    const bucket = uniqueName('gateway-svc').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 60);
    // gc and verify walk every repo of the store: a Redis database of its own (no other test uses 7) keeps
    // other tests' repos, whose objects live in other buckets, out of this store.
    const redis = new URL(process.env.ARMILLARIA_REDIS_URL!);
    redis.pathname = '/7';
    const shared = {
      ARMILLARIA_MODE: 'distributed',
      ARMILLARIA_REDIS_URL: redis.toString(),
      ARMILLARIA_S3_BUCKET: bucket,
      ARMILLARIA_S3_ACCESS_KEY: process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin',
      ARMILLARIA_S3_SECRET_KEY: process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin',
    };
    const pkg = (p: string) => fileURLToPath(new URL(`../../${p}/src/server/main.ts`, import.meta.url));
    const procs: NodeProcess[] = [];
    try {
      const chunksSvc = await startService(pkg('chunk-store'), shared);
      procs.push(chunksSvc.proc);
      const catalogSvc = await startService(pkg('catalog'), shared);
      procs.push(catalogSvc.proc);
      const txnSvc = await startService(pkg('txn-coordinator'), shared);
      procs.push(txnSvc.proc);
      const gw = await start({
        ...shared,
        ARMILLARIA_DATA_DIR: join(dir, 'gateway-only'),
        ARMILLARIA_CATALOG_URL: catalogSvc.url,
        ARMILLARIA_CHUNKS_URL: chunksSvc.url,
        ARMILLARIA_TXN_URL: txnSvc.url,
      });
      procs.push(gw.proc);
      const repo = uniqueName('svc').replace(/[^A-Za-z0-9_.-]/g, '-');
      await story(gw.url, repo);
      // A transaction through the gateway reaches the coordinator service; SQL sees its commit.
      expect((await call(gw.url, 'POST', '/txn/begin', ADMIN, { repo, branch: 'main' })).json.code).toBe('BRANCH_PROTECTED');
      const begin = await call(gw.url, 'POST', '/txn/begin', ADMIN, { repo, branch: 'dev' });
      expect(begin.status).toBe(200);
      const id = begin.json.id as string;
      expect((await call(gw.url, 'POST', `/txn/${id}/write`, ADMIN, { table: 'users', op: 'upsert', rows: [{ id: 9, score: 900 }] })).status).toBe(200);
      expect((await call(gw.url, 'POST', `/txn/${id}/commit`, ADMIN, {})).status).toBe(200);
      const q = await call(gw.url, 'POST', `/repos/${repo}/sql`, READER, { sql: 'SELECT max(score) AS m FROM users', branch: 'dev' });
      expect(q.json.rows).toEqual([{ m: 900 }]);
      // gc and verify need the catalog in-process: the gateway forwards them to the catalog service,
      // behind its own access rules (admin), and relays the service's answers and typed errors.
      expect((await call(gw.url, 'POST', '/gc', READER, { dryRun: true })).status).toBe(403);
      const gc = await call(gw.url, 'POST', '/gc', ADMIN, { dryRun: true });
      expect(gc.status, JSON.stringify(gc.json)).toBe(200);
      expect(gc.json).toMatchObject({ dryRun: true, repos: expect.any(Number) });
      expect(gc.json.marked).toBeGreaterThan(0);
      const verifyRepo = await call(gw.url, 'POST', `/repos/${repo}/verify`, ADMIN, {});
      expect(verifyRepo.status, JSON.stringify(verifyRepo.json)).toBe(200);
      expect(verifyRepo.json).toMatchObject({ ok: true, repos: [repo], problems: [] });
      expect(verifyRepo.json.chunks).toBeGreaterThan(0);
      expect((await call(gw.url, 'POST', '/verify', ADMIN, {})).json.ok).toBe(true);
      const bad = await call(gw.url, 'POST', '/gc', ADMIN, { dryRun: 'yes' });
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe('INVALID_ARGUMENT');
      expect(bad.json.message).toMatch(/dryRun/);
      expect((await call(gw.url, 'POST', '/repos/no-such-repo-xyz/verify', ADMIN, {})).json.code).toBe('REPO_NOT_FOUND');
    } finally {
      for (const p of procs.reverse()) await p.stop();
    }
  });
});
