// Cancelling a running query: through the caller's signal, and over HTTP when the client goes away.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { metricsRegistry } from '@armillaria/core';
import { buildApp } from '../src/index.js';
import { embeddedEnv, errorOf, type Env } from './helpers.js';

// Minutes of work on one thread: it only ends early when interrupted.
const SLOW = 'SELECT sum(a.range * b.range) AS s FROM range(200000) a, range(200000) b';

async function cancelledCount(): Promise<number> {
  const m = (await metricsRegistry.getSingleMetric('armillaria_queries_cancelled_total')?.get())?.values ?? [];
  return m.reduce((a, v) => a + v.value, 0);
}

describe('query cancellation', () => {
  let env: Env;
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    env = await embeddedEnv({ limits: { timeoutMs: 120_000 } });
    await env.catalog.createRepo('q');
    await env.catalog.createTable('q', 't', { rows: [{ id: 1n, v: 10 }], primaryKey: ['id'] });
    app = await buildApp({ catalog: env.catalog, engine: env.engine });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await env?.cleanup();
  });

  it('the caller\'s signal interrupts a running query: it rejects with the signal\'s reason, and the engine keeps serving', async () => {
    const ctl = new AbortController();
    const running = env.engine.query('q', SLOW, { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 300);
    const err: unknown = await running.then(() => undefined, (e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((await env.engine.query('q', 'SELECT sum(v) AS s FROM t')).rows).toEqual([{ s: 10 }]);
    // Already aborted: refused before any work, with the given reason.
    const reason = new Error('stop');
    expect(await env.engine.query('q', 'SELECT 1', { signal: AbortSignal.abort(reason) }).catch((e: unknown) => e)).toBe(reason);
    // A signal that never fires changes nothing.
    expect((await env.engine.query('q', 'SELECT sum(v) AS s FROM t', { signal: new AbortController().signal })).rows).toEqual([{ s: 10 }]);
    expect((await errorOf(env.engine.query('q', 'SELECT * FROM nope', { signal: new AbortController().signal }))).code).toBe('TABLE_NOT_FOUND');
  });

  it('a client that goes away cancels its query on the gateway', async () => {
    const before = await cancelledCount();
    const ctl = new AbortController();
    const req = fetch(`${url}/repos/q/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: SLOW }), signal: ctl.signal });
    setTimeout(() => ctl.abort(), 300);
    await expect(req).rejects.toThrow();
    // Without cancellation the query would run for minutes and never be counted.
    await vi.waitFor(async () => expect(await cancelledCount()).toBe(before + 1), { timeout: 30_000, interval: 50 });
    const ok = await fetch(`${url}/repos/q/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT sum(v) AS s FROM t' }) });
    expect(await ok.json()).toMatchObject({ rows: [{ s: 10 }] });
  });
});
