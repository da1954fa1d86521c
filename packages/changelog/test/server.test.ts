import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import type { Commit } from '@armillaria/catalog';
import { Changelog, EmbeddedChangeBus, MemoryCursorStore, RemoteChangeSubscriber, buildApp, parseFrom, type ChangeEvent } from '../src/index.js';
import { embeddedCatalog, type CatalogFixture } from './catalog-fixture.js';
import { expectedEvents, ids, schema } from './subscribe.suite.js';
import { take } from './helpers.js';

let fx: CatalogFixture;
let changelog: Changelog;
let bus: EmbeddedChangeBus;
let app: FastifyInstance;
let remote: RemoteChangeSubscriber;
let address: string;

const put = async (table: string, id: number): Promise<Commit> => {
  const res = await fx.catalog.upsert('r', table, [{ id, v: `v${id}` }]);
  await changelog.publishCommit('r', 'main', res.commit);
  return res.commit;
};

beforeEach(async () => {
  fx = await embeddedCatalog();
  bus = await EmbeddedChangeBus.open();
  changelog = new Changelog({ catalog: fx.catalog, bus, cursors: new MemoryCursorStore() });
  await fx.catalog.createRepo('r');
  for (const t of ['a', 'b']) await changelog.publishCommit('r', 'main', (await fx.catalog.createTable('r', t, { schema, primaryKey: ['id'] })).commit);
  app = await buildApp({ changelog, heartbeatMs: 50 });
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  remote = new RemoteChangeSubscriber({ baseUrl: address, reconnectDelayMs: 20 });
});
afterEach(async () => {
  await bus.close();
  // fetch keeps a spare connection open without a request on it; do not wait for it to time out.
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
  await fx.cleanup();
});

describe('changelog service', () => {
  it('answers setup errors with typed JSON errors before any stream starts', async () => {
    const get = (url: string) => app.inject({ method: 'GET', url });
    let res = await get('/repos/nope/changes?branch=main');
    expect([res.statusCode, res.json().code]).toEqual([404, 'REPO_NOT_FOUND']);
    res = await get('/repos/r/changes?branch=main&from=sometime');
    expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_ARGUMENT']);
    res = await get('/repos/r/changes?branch=main&rows=maybe');
    expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_ARGUMENT']);
    res = await get('/repos/r/changes');
    expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_ARGUMENT']);
    res = await get('/repos/r/changes?branch=main&from=version:a:99');
    expect([res.statusCode, res.json().code]).toEqual([404, 'VERSION_NOT_FOUND']);
    res = await app.inject({ method: 'GET', url: '/repos/r/changes?branch=main', headers: { 'last-event-id': 'garbage' } });
    expect([res.statusCode, res.json().code]).toEqual([400, 'INVALID_ARGUMENT']);
    expect((await get('/readyz')).statusCode).toBe(200);
  });

  it('serves one commit\'s events', async () => {
    const c = await put('a', 1);
    const res = await app.inject({ method: 'GET', url: `/repos/r/commits/${c.hash}/events?branch=main&rows=true` });
    expect(res.statusCode).toBe(200);
    const { events } = res.json() as { events: ChangeEvent[] };
    expect(events.map((e) => [e.table, e.op, e.rows])).toEqual([['a', 'upserted', [{ kind: 'insert', key: [1], after: { id: 1, v: 'v1' } }]]]);
  });

  it('streams history then live changes to a remote subscriber over SSE', async () => {
    for (let i = 0; i < 4; i++) await put(i % 2 ? 'a' : 'b', i);
    const it = remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest' })[Symbol.asyncIterator]();
    const got: ChangeEvent[] = [];
    for (let i = 0; i < 6; i++) got.push((await it.next()).value);
    for (let i = 4; i < 7; i++) await put('a', i);
    for (let i = 0; i < 3; i++) got.push((await it.next()).value);
    await it.return?.();
    expect(ids(got)).toEqual(ids(await expectedEvents(fx.catalog, 'r', 'main', -1)));
  });

  it('passes tables, rows, from and durable names through', async () => {
    const c1 = await put('a', 1);
    await put('b', 2);
    await put('a', 3);
    const rows = await take(remote.subscribe({ repo: 'r', branch: 'main', tables: ['a'], from: { commit: c1.hash }, rows: true }), 1);
    expect(rows[0]!.rows).toEqual([{ kind: 'insert', key: [3], after: { id: 3, v: 'v3' } }]);
    const v = await take(remote.subscribe({ repo: 'r', branch: 'main', tables: ['a'], from: { version: 1 } }), 2);
    expect(v.map((e) => e.versionAfter)).toEqual([2, 3]);
    const first = await take(remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'svc' }), 2);
    const next = await take(remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'svc' }), 3);
    expect(ids([...first, ...next])).toEqual(ids(await expectedEvents(fx.catalog, 'r', 'main', -1)));
    await expect(take(remote.subscribe({ repo: 'nope', branch: 'main' }), 1)).rejects.toSatisfy((e) => isArmillariaError(e, ErrorCode.RepoNotFound));
  });

  it('moves a durable cursor only for events the remote reader took, not for events sent ahead', async () => {
    for (let i = 0; i < 20; i++) await put(i % 2 ? 'a' : 'b', i);
    const all = await expectedEvents(fx.catalog, 'r', 'main', -1);
    const seen: ChangeEvent[] = [];
    for (const n of [3, 1, 7]) seen.push(...(await take(remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'remote-1' }), n)));
    seen.push(...(await take(remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'remote-1' }), all.length - seen.length)));
    expect(ids(seen)).toEqual(ids(all));
    // A reader that never acks: the server streamed events but moved no cursor.
    const raw = await fetch(`${address}/repos/r/changes?branch=main&from=earliest&durable=raw-1`);
    const reader = raw.body!.getReader();
    let text = '';
    while (!text.includes('event: change')) text += new TextDecoder().decode((await reader.read()).value);
    await new Promise((r) => setTimeout(r, 200));
    await reader.cancel();
    const again = await take(remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest', durableName: 'raw-1' }), 1);
    expect(ids(again)).toEqual(ids(all.slice(0, 1)));
    const res = await app.inject({ method: 'PUT', url: '/repos/r/changes/cursors/remote-1', payload: { branch: 'main', commit: 'nothex', table: 'a' } });
    expect(res.statusCode).toBe(400);
  });

  it('reconnects a dropped stream with Last-Event-ID: no gap, no duplicate', async () => {
    for (let i = 0; i < 3; i++) await put('a', i);
    const it = remote.subscribe({ repo: 'r', branch: 'main', from: 'earliest' })[Symbol.asyncIterator]();
    const got: ChangeEvent[] = [];
    for (let i = 0; i < 3; i++) got.push((await it.next()).value);
    app.server.closeAllConnections();
    for (let i = 3; i < 6; i++) await put('b', i);
    for (let i = 0; i < 5; i++) got.push((await it.next()).value);
    await it.return?.();
    expect(ids(got)).toEqual(ids(await expectedEvents(fx.catalog, 'r', 'main', -1)));
  });

  it('parses every from= form', () => {
    const h = 'ab'.repeat(32);
    expect(parseFrom(undefined)).toBe('latest');
    expect(parseFrom('earliest')).toBe('earliest');
    expect(parseFrom(h)).toEqual({ commit: h });
    expect(parseFrom('commit:v1-tag')).toEqual({ commit: 'v1-tag' });
    expect(parseFrom('time:1700000000000')).toEqual({ time: 1_700_000_000_000 });
    expect(parseFrom('time:2024-01-01T00:00:00Z')).toEqual({ time: '2024-01-01T00:00:00Z' });
    expect(parseFrom('version:3')).toEqual({ version: 3 });
    expect(parseFrom('version:orders:3')).toEqual({ version: 3, table: 'orders' });
    expect(parseFrom(`after:${h}:orders`)).toEqual({ afterEvent: { commit: h, table: 'orders' } });
    for (const bad of ['version:0', 'version:x', 'after:abc:t', 'soon', 'commit:']) expect(() => parseFrom(bad)).toThrow(/invalid from/);
  });
});
