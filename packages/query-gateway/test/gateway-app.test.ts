import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { Changelog, EmbeddedChangeBus } from '@armillaria/changelog';
import { FsTxnLog, TxnCoordinator } from '@armillaria/txn-coordinator';
import { createServiceApp } from '@armillaria/core/server';
import { ARROW_STREAM, ROUTES, buildApp, gatewayRoutes } from '../src/index.js';
import { embeddedEnv, type Env } from './helpers.js';

const TOKENS = {
  reader: 'read-token-0001',
  writer: 'write-token-0001',
  admin: 'admin-token-0001',
  other: 'other-token-0001',
};
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

/** A live SSE subscription through the app on a loopback port: read until a needle shows up (fails, never hangs, after 15 s). */
async function subscribe(app: FastifyInstance, path: string, token: string): Promise<{ readUntil(needle: string): Promise<void>; text(): string; close(): Promise<void> }> {
  const base = app.server.listening ? `http://127.0.0.1:${(app.server.address() as { port: number }).port}` : await app.listen({ host: '127.0.0.1', port: 0 });
  const ac = new AbortController();
  const res = await fetch(base + path, { headers: auth(token), signal: ac.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  return {
    text: () => text,
    readUntil: async (needle) => {
      const deadline = Date.now() + 15_000;
      while (!text.includes(needle)) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(needle)} within 15 s; got ${JSON.stringify(text)}`)), Math.max(0, deadline - Date.now()));
        });
        try {
          const { value, done } = await Promise.race([reader.read(), timeout]);
          if (done) throw new Error(`stream ended before ${JSON.stringify(needle)}`);
          text += decoder.decode(value, { stream: true });
        } finally {
          clearTimeout(timer);
        }
      }
    },
    close: async () => {
      ac.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

describe('gateway app (embedded services in-process, tokens, protected branches)', () => {
  let env: Env;
  let app: FastifyInstance;
  let coordinator: TxnCoordinator;
  let bus: EmbeddedChangeBus;
  beforeAll(async () => {
    env = await embeddedEnv();
    bus = await EmbeddedChangeBus.open({});
    coordinator = new TxnCoordinator({ catalog: env.catalog, tables: env.format, log: new FsTxnLog({ dir: join(env.dir, 'txn'), fsync: false }), bus, recoveryIntervalMs: 0 });
    await coordinator.start();
    const changelog = new Changelog({ catalog: env.catalog, bus });
    app = await buildApp({
      catalog: env.catalog, engine: env.engine, txn: coordinator, changelog,
      auth: {
        tokens: [
          { token: TOKENS.reader, name: 'reader', repos: { shop: 'read' } },
          { token: TOKENS.writer, name: 'writer', repos: { shop: 'write' } },
          { token: TOKENS.admin, name: 'admin', repos: { '*': 'admin' } },
          { token: TOKENS.other, name: 'other', repos: { elsewhere: 'admin' } },
        ],
      },
      protectedBranches: { shop: ['main', 'release/*'] },
    });
    await env.catalog.createRepo('shop');
    await env.catalog.createTable('shop', 'users', { rows: Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(i), name: `u${i}` })), primaryKey: ['id'] });
  });
  afterAll(async () => {
    await app?.close();
    await coordinator?.close();
    await bus?.close();
    await env?.cleanup();
  });

  it('runs SQL as JSON and as an Arrow IPC stream', async () => {
    const json = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.reader), payload: { sql: 'SELECT count(*) AS n FROM users WHERE id < 10' } });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ rows: [{ n: 10 }], rowCount: 1, columns: [{ name: 'n', type: 'BIGINT' }] });
    const arrow = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: { ...auth(TOKENS.reader), accept: ARROW_STREAM }, payload: { sql: 'SELECT id FROM users ORDER BY id LIMIT 3' } });
    expect(arrow.statusCode).toBe(200);
    expect(arrow.headers['content-type']).toBe(ARROW_STREAM);
    const t = tableFromIPC(arrow.rawPayload);
    expect(t.getChild('id')!.toArray()).toEqual(new BigInt64Array([0n, 1n, 2n]));
  });

  it('SQL errors are typed replies', async () => {
    const refused = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.admin), payload: { sql: "COPY users TO '/tmp/x.csv'" } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'QUERY_REFUSED' });
    const bad = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.admin), payload: { sql: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_ARGUMENT');
    const timeout = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.admin), payload: { sql: 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b', timeoutMs: 100 } });
    expect(timeout.statusCode).toBe(408);
    expect(timeout.json().code).toBe('QUERY_TIMEOUT');
    const limit = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.admin), payload: { sql: 'SELECT * FROM users', maxRows: 5 } });
    expect(limit.statusCode).toBe(413);
    expect(limit.json().code).toBe('LIMIT_EXCEEDED');
  });

  it('a missing or wrong token gets 401 UNAUTHORIZED; health and docs need none', async () => {
    for (const headers of [{}, auth('not-a-token-at-all'), { authorization: 'Basic abc' }]) {
      const r = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers, payload: { sql: 'SELECT 1' } });
      expect(r.statusCode).toBe(401);
      expect(r.json().code).toBe('UNAUTHORIZED');
      expect(r.body).not.toContain('not-a-token-at-all');
    }
    expect((await app.inject({ method: 'GET', url: '/repos/shop/tables' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200); // Prometheus scrapes without a token
    const doc = await app.inject({ method: 'GET', url: '/docs/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(doc.json().openapi).toBe('3.1.0');
    expect(Object.keys(doc.json().paths)).toContain('/repos/{repo}/sql');
    expect((await app.inject({ method: 'GET', url: '/docs' })).headers['content-type']).toMatch(/text\/html/);
  });

  it('a read-only token writing gets 403 FORBIDDEN; a token for another repo cannot even read', async () => {
    await env.catalog.createBranch('shop', 'feature');
    const w = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/append?branch=feature', headers: auth(TOKENS.reader), payload: { rows: [{ id: 5000, name: 'x' }] } });
    expect(w.statusCode).toBe(403);
    expect(w.json().code).toBe('FORBIDDEN');
    const b = await app.inject({ method: 'POST', url: '/repos/shop/branches', headers: auth(TOKENS.reader), payload: { name: 'nope' } });
    expect(b.statusCode).toBe(403);
    const txn = await app.inject({ method: 'POST', url: '/txn/begin', headers: auth(TOKENS.reader), payload: { repo: 'shop', branch: 'feature' } });
    expect(txn.statusCode).toBe(403);
    const other = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.other), payload: { sql: 'SELECT 1' } });
    expect(other.statusCode).toBe(403);
    const createRepo = await app.inject({ method: 'POST', url: '/repos', headers: auth(TOKENS.writer), payload: { name: 'newrepo' } });
    expect(createRepo.statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/repos', headers: auth(TOKENS.admin), payload: { name: 'newrepo' } })).statusCode).toBe(201);
    for (const token of [TOKENS.writer, TOKENS.other]) {
      expect((await app.inject({ method: 'POST', url: '/gc', headers: auth(token), payload: {} })).json().code).toBe('FORBIDDEN');
      expect((await app.inject({ method: 'POST', url: '/verify', headers: auth(token), payload: {} })).json().code).toBe('FORBIDDEN');
    }
  });

  it('protected branches refuse direct writes (even from admins) and accept merges from admins only', async () => {
    for (const token of [TOKENS.writer, TOKENS.admin]) {
      const direct = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/upsert', headers: auth(token), payload: { rows: [{ id: 1, name: 'direct' }] } });
      expect(direct.statusCode).toBe(403);
      expect(direct.json().code).toBe('BRANCH_PROTECTED');
      const release = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/upsert?branch=release/1', headers: auth(token), payload: { rows: [{ id: 1, name: 'direct' }] } });
      expect(release.json().code).toBe('BRANCH_PROTECTED');
      const del = await app.inject({ method: 'DELETE', url: '/repos/shop/branches/main', headers: auth(token) });
      expect(del.json().code).toBe('BRANCH_PROTECTED');
      const txn = await app.inject({ method: 'POST', url: '/txn/begin', headers: auth(token), payload: { repo: 'shop' } });
      expect(txn.json().code).toBe('BRANCH_PROTECTED');
      const create = await app.inject({ method: 'POST', url: '/repos/shop/tables/t2?branch=feature', headers: auth(token), payload: { rows: [{ a: 1 }] } });
      expect(create.json().code).toBe('BRANCH_PROTECTED');
      const column = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/columns', headers: auth(token), payload: { name: 'c', type: 'utf8', branch: 'main' } });
      expect(column.json().code).toBe('BRANCH_PROTECTED');
      const revert = await app.inject({ method: 'POST', url: '/repos/shop/revert', headers: auth(token), payload: { commit: 'abcdef12' } });
      expect(revert.json().code).toBe('BRANCH_PROTECTED');
    }
    const onFeature = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/upsert?branch=feature', headers: auth(TOKENS.writer), payload: { rows: [{ id: 1, name: 'via feature' }] } });
    expect(onFeature.statusCode).toBe(200);
    const writerMerge = await app.inject({ method: 'POST', url: '/repos/shop/merge', headers: auth(TOKENS.writer), payload: { source: 'feature', into: 'main' } });
    expect(writerMerge.statusCode).toBe(403);
    expect(writerMerge.json().code).toBe('BRANCH_PROTECTED');
    const writerRelease = await app.inject({ method: 'POST', url: '/repos/shop/branches', headers: auth(TOKENS.writer), payload: { name: 'release/2' } });
    expect(writerRelease.json().code).toBe('BRANCH_PROTECTED');
    expect((await app.inject({ method: 'POST', url: '/repos/shop/branches', headers: auth(TOKENS.admin), payload: { name: 'release/2' } })).statusCode).toBe(201);
    const adminMerge = await app.inject({ method: 'POST', url: '/repos/shop/merge', headers: auth(TOKENS.admin), payload: { source: 'feature' } });
    expect(adminMerge.statusCode).toBe(200);
    const after = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.reader), payload: { sql: 'SELECT name FROM users WHERE id = 1' } });
    expect(after.json().rows).toEqual([{ name: 'via feature' }]);
  });

  it('transactions through /txn on an unprotected branch, then SQL sees them; commit events are served', async () => {
    await env.catalog.createBranch('shop', 'txn-branch');
    const begin = await app.inject({ method: 'POST', url: '/txn/begin', headers: auth(TOKENS.writer), payload: { repo: 'shop', branch: 'txn-branch' } });
    expect(begin.statusCode).toBe(200);
    const id = begin.json().id as string;
    const stage = await app.inject({ method: 'POST', url: `/txn/${id}/write`, headers: auth(TOKENS.writer), payload: { table: 'orders', op: 'create', schema: { fields: [{ name: 'oid', type: 'int64' }, { name: 'amount', type: 'float64' }] }, rows: [{ oid: 1, amount: 3.5 }] } });
    expect(stage.statusCode, stage.body).toBe(200);
    expect((await app.inject({ method: 'POST', url: `/txn/${id}/commit`, headers: auth(TOKENS.reader), payload: {} })).statusCode).toBe(403);
    const commit = await app.inject({ method: 'POST', url: `/txn/${id}/commit`, headers: auth(TOKENS.writer), payload: {} });
    expect(commit.statusCode).toBe(200);
    const q = await app.inject({ method: 'POST', url: '/repos/shop/sql', headers: auth(TOKENS.reader), payload: { sql: 'SELECT sum(amount) AS s FROM orders', branch: 'txn-branch' } });
    expect(q.json().rows).toEqual([{ s: 3.5 }]);
    const events = await app.inject({ method: 'GET', url: `/repos/shop/commits/${commit.json().commit}/events?branch=txn-branch`, headers: auth(TOKENS.reader) });
    expect(events.statusCode).toBe(200);
    expect(events.json().events.map((e: { table: string }) => e.table)).toEqual(['orders']);
  });

  it('streams change subscriptions as server-sent events behind the same tokens', async () => {
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    expect((await fetch(`${base}/repos/shop/changes?branch=feature&from=earliest`)).status).toBe(401);
    const ac = new AbortController();
    const res = await fetch(`${base}/repos/shop/changes?branch=feature&from=earliest&tables=users`, { headers: auth(TOKENS.reader), signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    // The feature branch holds the table's creation and the upsert made through the gateway: two events.
    while ((text.match(/event: change/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    ac.abort();
    const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { table: string; branch: string });
    expect(events.map((e) => e.table)).toEqual(['users', 'users']);
  });

  it('a live subscriber hears of direct writes through the gateway (the gateway publishes their events)', async () => {
    const sse = await subscribe(app, '/repos/shop/changes?branch=feature&from=latest&tables=users', TOKENS.reader);
    try {
      await sse.readUntil(': subscribed');
      const write = await app.inject({ method: 'POST', url: '/repos/shop/tables/users/upsert?branch=feature', headers: auth(TOKENS.writer), payload: { rows: [{ id: 2, name: 'live' }] } });
      expect(write.statusCode).toBe(200);
      await sse.readUntil('event: change');
      const data = sse.text().split('\n').find((l) => l.startsWith('data: '))!;
      expect(JSON.parse(data.slice(6))).toMatchObject({ table: 'users', commit: write.json().commit.hash });
    } finally {
      await sse.close();
    }
  });

  it('a chain of commits through the gateway publishes the events of each of its commits', async () => {
    expect((await app.inject({ method: 'POST', url: '/repos/shop/branches', headers: auth(TOKENS.writer), payload: { name: 'chained' } })).statusCode).toBe(201);
    const base = await env.catalog.resolve('shop', 'chained');
    const users = (await env.catalog.readTree('shop', base.tree)).tables.users as { manifest: string; version: number };
    const sse = await subscribe(app, '/repos/shop/changes?branch=chained&from=latest', TOKENS.reader);
    try {
      await sse.readUntil(': subscribed');
      const chain = await app.inject({
        method: 'POST', url: '/repos/shop/chains', headers: auth(TOKENS.writer),
        payload: { branch: 'chained', baseCommit: base.hash, commits: [
          { tree: { tables: { users, a: { manifest: users.manifest, version: 1 } } }, message: 'one' },
          { tree: { tables: { users, a: { manifest: users.manifest, version: 1 }, b: { manifest: users.manifest, version: 1 } } }, message: 'two' },
        ] },
      });
      expect(chain.statusCode, chain.body).toBe(201);
      const [one, two] = (chain.json() as { commits: Array<{ hash: string }> }).commits;
      await sse.readUntil(two!.hash);
      const events = sse.text().split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { table: string; commit: string });
      expect(events.map((e) => [e.table, e.commit])).toEqual([['a', one!.hash], ['b', two!.hash]]);
      // A reader may not write a chain (the route is classified as a write).
      expect((await app.inject({ method: 'POST', url: '/repos/shop/chains', headers: auth(TOKENS.reader), payload: { branch: 'chained', baseCommit: two!.hash, commits: [] } })).statusCode).toBe(403);
    } finally {
      await sse.close();
    }
  });

  it('every mounted route is classified in the route table (none falls to deny-by-default), and every rule is mounted', async () => {
    const probe = createServiceApp({ name: 'probe' });
    const mounted: string[] = [];
    probe.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) if (m !== 'HEAD') mounted.push(`${m} ${r.url}`);
    });
    await probe.register(gatewayRoutes, { catalog: env.catalog, engine: env.engine, txn: coordinator, changelog: new Changelog({ catalog: env.catalog, bus }) });
    await probe.ready();
    // /healthz, /readyz and /metrics come with createServiceApp, not with the plugin.
    const known = ROUTES.map((r) => `${r.method} ${r.url}`).filter((k) => !/\/(healthz|readyz|metrics)$/.test(k));
    expect([...new Set(mounted)].sort()).toEqual([...new Set(known)].sort());
    await probe.close();
  });
});
