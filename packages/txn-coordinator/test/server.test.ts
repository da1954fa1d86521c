import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { tableFromIPC } from 'apache-arrow';
import { schemaFromSpec, toArrowTable } from '@armillaria/catalog';
import { buildApp, RemoteTxnClient, type TxnApi } from '../src/index.js';
import { RecordingChangeBus } from './helpers/recording-change-bus.js';
import { openStack, type Stack } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';

let dir: string;
let stack: Stack;
let app: FastifyInstance;
let remote: RemoteTxnClient;
const bus = new RecordingChangeBus();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-txn-server-'));
  stack = await openStack({ dir, bus, recoveryIntervalMs: 0 });
  await seedRepo(stack.catalog, 'r');
  app = await buildApp({ txn: stack.coordinator, ready: () => stack.log.ping() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  remote = new RemoteTxnClient({ baseUrl: `http://127.0.0.1:${address.port}` });
});
afterAll(async () => {
  await app.close();
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

describe('/txn routes (inject)', () => {
  it('begin, write, read, commit, status', async () => {
    const begin = await app.inject({ method: 'POST', url: '/txn/begin', payload: { repo: 'r' } });
    expect(begin.statusCode).toBe(200);
    const { id } = begin.json() as { id: string };
    const write = await app.inject({ method: 'POST', url: `/txn/${id}/write`, payload: { table: 'kv', op: 'upsert', rows: [{ id: 50, v: 'fifty' }] } });
    expect(write.statusCode).toBe(200);
    expect(write.json()).toMatchObject({ table: 'kv', rows: 5 });
    const read = await app.inject({ method: 'GET', url: `/txn/${id}/tables/kv?columns=id` });
    expect(read.headers['content-type']).toContain('application/vnd.apache.arrow.stream');
    expect(tableFromIPC(read.rawPayload).numRows).toBe(5);
    const commit = await app.inject({ method: 'POST', url: `/txn/${id}/commit`, payload: { message: 'via http' } });
    expect(commit.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: `/txn/${id}` })).json()).toMatchObject({ state: 'DONE', commit: (commit.json() as { commit: string }).commit });
  });

  it('answers bad requests and unknown transactions with typed error bodies', async () => {
    const bad = await app.inject({ method: 'POST', url: '/txn/begin', payload: { repo: 'r', isolation: 'chaos' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ statusCode: 400, code: ErrorCode.InvalidArgument });
    const missing = await app.inject({ method: 'GET', url: '/txn/txn-nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: ErrorCode.TxnNotFound });
    const { id } = (await app.inject({ method: 'POST', url: '/txn/begin', payload: { repo: 'r' } })).json() as { id: string };
    const noRows = await app.inject({ method: 'POST', url: `/txn/${id}/write`, payload: { table: 'kv', op: 'upsert' } });
    expect(noRows.json()).toMatchObject({ statusCode: 400, code: ErrorCode.InvalidArgument });
    const badOp = await app.inject({ method: 'POST', url: `/txn/${id}/write`, payload: { table: 'kv', op: 'explode', rows: [] } });
    expect(badOp.statusCode).toBe(400);
    const abort = await app.inject({ method: 'POST', url: `/txn/${id}/abort`, payload: {} });
    expect(abort.json()).toMatchObject({ state: 'ABORTED' });
    const after = await app.inject({ method: 'POST', url: `/txn/${id}/write`, payload: { table: 'kv', op: 'upsert', rows: [] } });
    expect(after.statusCode).toBe(409);
    expect(after.json()).toMatchObject({ code: ErrorCode.TxnAborted });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('RemoteTxnClient', () => {
  it('does what the coordinator does, with the same errors', async () => {
    const c: TxnApi = remote;
    const t = await c.begin({ repo: 'r' });
    await c.createTable(t.id, 'big', { schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'n', type: 'int64' }] }, primaryKey: ['id'] });
    await c.upsert(t.id, 'big', [{ id: 1n, n: 2n ** 60n }, { id: 2, n: '7' }]);
    await c.append(t.id, 'events', [{ msg: 'remote' }]);
    await c.deleteRows(t.id, 'kv', [{ id: 1 }]);
    await c.addColumn(t.id, 'kv', { name: 'note', type: 'utf8', defaultValue: 'n/a' });
    const own = await c.read(t.id, 'big');
    expect(own.toArray().map((r) => (r.toJSON() as { n: bigint }).n)).toEqual([2n ** 60n, 7n]);
    const result = await c.commit(t.id, { idempotencyKey: 'remote-1' });
    expect(result.tables.sort()).toEqual(['big', 'events', 'kv']);
    expect((await c.status(t.id)).state).toBe('DONE');
    expect(plain(await stack.catalog.read('r', 'events')).map((r) => r.msg)).toContain('remote');
    expect(bus.delivered.filter((e) => e.txnId === t.id)).toHaveLength(3);

    const t2 = await c.begin({ repo: 'r' });
    await c.append(t2.id, 'events', [{ msg: 'remote' }]);
    expect(await c.commit(t2.id, { idempotencyKey: 'remote-1' })).toMatchObject({ deduplicated: true, commit: result.commit });

    // Arrow tables go over the wire as JSON rows with the schema derived from Arrow's types.
    const t5 = await c.begin({ repo: 'r' });
    const arrow = toArrowTable([{ k: 1, f: 1.5, s: 'x', b: true, big: 2n ** 62n }], schemaFromSpec({ fields: [
      { name: 'k', type: 'int32', nullable: false }, { name: 'f', type: 'float64' }, { name: 's', type: 'utf8' }, { name: 'b', type: 'bool' }, { name: 'big', type: 'int64' },
    ] }));
    await c.createTable(t5.id, 'typed', { rows: arrow, primaryKey: ['k'] });
    await c.commit(t5.id);
    const described = await stack.catalog.describeTable('r', 'typed');
    // (Nullability is not compared: the catalog stores every column as nullable, even via its own createTable.)
    expect(described.schema.fields.map((f) => [f.name, f.type])).toEqual([['k', 'int32'], ['f', 'float64'], ['s', 'utf8'], ['b', 'bool'], ['big', 'int64']]);
    expect((await stack.catalog.read('r', 'typed')).toArray().map((r) => (r.toJSON() as { big: bigint }).big)).toEqual([2n ** 62n]);

    await expect(c.status('txn-nope')).rejects.toMatchObject({ code: ErrorCode.TxnNotFound });
    const t3 = await c.begin({ repo: 'r' });
    await expect(c.read(t3.id, 'missing')).rejects.toMatchObject({ code: ErrorCode.TableNotFound });
    await expect(c.upsert(t3.id, 'events', [{ msg: 'x' }])).rejects.toMatchObject({ code: ErrorCode.PrimaryKeyRequired });
    await c.upsert(t3.id, 'kv', [{ id: 2, v: 'mine' }]);
    const t4 = await c.begin({ repo: 'r' });
    await c.upsert(t4.id, 'kv', [{ id: 2, v: 'theirs' }]);
    await c.commit(t4.id);
    await expect(c.commit(t3.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'kv', kind: 'keys', keys: [[2]] } });
    expect((await c.abort(t3.id)).state).toBe('ABORTED');
  });
});
