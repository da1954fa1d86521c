import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, sleep } from '@armillaria/core';
import type { ChangeBus } from '@armillaria/changelog';
import { RecordingChangeBus } from './helpers/recording-change-bus.js';
import { openStack, type Stack } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';

let dir: string;
let stack: Stack;
let bus: RecordingChangeBus;

async function open(extra: { bus?: ChangeBus; idleTimeoutMs?: number; recoveryIntervalMs?: number } = {}): Promise<Stack> {
  return openStack({ dir, bus: extra.bus ?? bus, recoveryIntervalMs: extra.recoveryIntervalMs ?? 0, ...(extra.idleTimeoutMs ? { idleTimeoutMs: extra.idleTimeoutMs } : {}) });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-txn-'));
  bus = new RecordingChangeBus();
  stack = await open();
  await seedRepo(stack.catalog, 'r');
});

afterEach(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

describe('TxnCoordinator', () => {
  it('shows a transaction its own writes and nobody else until commit', async () => {
    const c = stack.coordinator;
    const t = await c.begin({ repo: 'r' });
    await c.upsert(t.id, 'kv', [{ id: 2, v: 'two' }, { id: 9, v: 'nine' }]);
    await c.append(t.id, 'events', [{ msg: 'second' }]);
    expect(plain(await c.read(t.id, 'kv'))).toEqual([{ id: 1, v: 'v1' }, { id: 2, v: 'two' }, { id: 3, v: 'v3' }, { id: 4, v: 'v4' }, { id: 9, v: 'nine' }]);
    expect(plain(await stack.catalog.read('r', 'kv'))).toHaveLength(4);
    expect((await c.status(t.id)).state).toBe('ACTIVE');

    const result = await c.commit(t.id, { message: 'both', author: 'test' });
    expect(result).toMatchObject({ txnId: t.id, parent: t.base, attempts: 1, rebased: false, deduplicated: false, published: true });
    expect(result.tables.sort()).toEqual(['events', 'kv']);
    const head = await stack.catalog.resolve('r', 'main');
    expect(head).toMatchObject({ hash: result.commit, txnId: t.id, message: 'both', author: 'test', parents: [t.base] });
    expect(plain(await stack.catalog.read('r', 'kv'))).toHaveLength(5);
    expect(plain(await stack.catalog.read('r', 'events'))).toEqual([{ msg: 'first' }, { msg: 'second' }]);
    expect((await c.status(t.id))).toMatchObject({ state: 'DONE', commit: result.commit });
    expect((await stack.log.get(t.id))?.state).toBe('DONE');

    expect(bus.delivered.map((e) => [e.table, e.op, e.versionBefore, e.versionAfter, e.commit, e.txnId]).sort()).toEqual([
      ['events', 'appended', 1, 2, result.commit, t.id],
      ['kv', 'upserted', 1, 2, result.commit, t.id],
    ]);
    const appended = bus.delivered.find((e) => e.table === 'events');
    expect(appended?.chunksAdded.length).toBeGreaterThan(0);
    expect(appended?.seq).toBe(head.generation);
  });

  it('creates, writes, alters and drops tables in one atomic commit', async () => {
    const c = stack.coordinator;
    const t = await c.begin({ repo: 'r' });
    await c.createTable(t.id, 'audit', { schema: { fields: [{ name: 'id', type: 'int64', nullable: false }, { name: 'what', type: 'utf8' }] }, primaryKey: ['id'] });
    await c.upsert(t.id, 'audit', [{ id: 1, what: 'created' }]);
    await c.write(t.id, 'kv', [{ id: 7, v: 'only' }]);
    await c.addColumn(t.id, 'kv', { name: 'note', type: 'utf8' });
    await c.dropTable(t.id, 'events');
    await expect(c.read(t.id, 'events')).rejects.toMatchObject({ code: ErrorCode.TableNotFound });
    await c.commit(t.id);
    const tables = (await stack.catalog.listTables('r')).map((x) => [x.table, x.version]).sort();
    // One commit is one version step, however many ops it holds.
    expect(tables).toEqual([['audit', 1], ['kv', 2]]);
    expect(plain(await stack.catalog.read('r', 'kv'))).toEqual([{ id: 7, v: 'only', note: null }]);
    expect(plain(await stack.catalog.read('r', 'audit'))).toEqual([{ id: 1, what: 'created' }]);
    expect(bus.delivered.map((e) => [e.table, e.op]).sort()).toEqual([['audit', 'created'], ['events', 'dropped'], ['kv', 'written']]);
  });

  it('deletes rows by key (whole rows too: only the key columns count, as in Catalog.deleteRows)', async () => {
    const c = stack.coordinator;
    const t = await c.begin({ repo: 'r' });
    const staged = await c.deleteRows(t.id, 'kv', [{ id: 1 }, { id: 3, v: 'whatever', note: 'ignored' }, { id: 99, v: 'absent' }]);
    expect(staged.rows).toBe(2);
    await c.commit(t.id);
    expect(plain(await stack.catalog.read('r', 'kv')).map((r) => r.id)).toEqual([2, 4]);
    expect(bus.delivered[0]?.op).toBe('deleted');
  });

  it('partial upserts keep the columns a row leaves out, read from the version the commit lands on; they conflict only on the columns they write', async () => {
    const c = stack.coordinator;
    const schema = { fields: [{ name: 'id', type: 'int64' as const, nullable: false }, { name: 'name', type: 'utf8' as const }, { name: 'plan', type: 'utf8' as const }] };
    await stack.catalog.createTable('r', 'acct', { schema, primaryKey: ['id'], rows: [{ id: 1, name: 'a', plan: 'free' }, { id: 2, name: 'b', plan: 'free' }] });
    const t = await c.begin({ repo: 'r' });
    await c.upsert(t.id, 'acct', [{ id: 1, plan: 'pro' }, { id: 3, name: 'c' }]);
    expect(plain(await c.read(t.id, 'acct'))).toEqual([{ id: 1, name: 'a', plan: 'pro' }, { id: 2, name: 'b', plan: 'free' }, { id: 3, name: 'c', plan: null }]);
    // Another key changes meanwhile: the commit rebases, replaying the partial upsert on the new head.
    await stack.catalog.upsert('r', 'acct', [{ id: 2, name: 'B' }]);
    expect((await c.commit(t.id)).rebased).toBe(true);
    expect(plain(await stack.catalog.read('r', 'acct'))).toEqual([{ id: 1, name: 'a', plan: 'pro' }, { id: 2, name: 'B', plan: 'free' }, { id: 3, name: 'c', plan: null }]);
    // The same key updated meanwhile in another column: no lost update, so the commit rebases and both stay.
    const u = await c.begin({ repo: 'r' });
    await c.upsert(u.id, 'acct', [{ id: 1, plan: 'team' }]);
    await stack.catalog.upsert('r', 'acct', [{ id: 1, name: 'A' }]);
    expect((await c.commit(u.id)).rebased).toBe(true);
    expect(plain(await stack.catalog.read('r', 'acct'))[0]).toEqual({ id: 1, name: 'A', plan: 'team' });
    // In a column the transaction wrote: a key conflict, as for whole rows.
    const v = await c.begin({ repo: 'r' });
    await c.upsert(v.id, 'acct', [{ id: 1, plan: 'free' }]);
    await stack.catalog.upsert('r', 'acct', [{ id: 1, plan: 'pro' }]);
    await expect(c.commit(v.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'acct', kind: 'keys', keys: [[1]] } });
    // A whole row written by the transaction (or a partial upsert and then a whole one) conflicts with any
    // concurrent change of the key: replaying it would undo that change.
    for (const ops of [[{ id: 2, name: 'b2', plan: 'free' }], [{ id: 2, plan: 'team' }, { id: 2, name: 'b3', plan: 'team' }]]) {
      const w = await c.begin({ repo: 'r' });
      for (const op of ops) await c.upsert(w.id, 'acct', [op]);
      await stack.catalog.upsert('r', 'acct', [{ id: 2, name: `B${ops.length}` }]);
      await expect(c.commit(w.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'acct', kind: 'keys', keys: [[2]] } });
    }
    // A key the concurrent commit deleted conflicts too.
    const x = await c.begin({ repo: 'r' });
    await c.upsert(x.id, 'acct', [{ id: 3, plan: 'pro' }]);
    await stack.catalog.deleteRows('r', 'acct', [{ id: 3 }]);
    await expect(c.commit(x.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { keys: [[3]] } });
    expect(plain(await stack.catalog.read('r', 'acct'))).toEqual([{ id: 1, name: 'A', plan: 'pro' }, { id: 2, name: 'B2', plan: 'free' }]);
  });

  it('aborts: nothing becomes visible and later calls fail with TXN_ABORTED', async () => {
    const c = stack.coordinator;
    const before = await stack.catalog.resolve('r', 'main');
    const t = await c.begin({ repo: 'r' });
    await c.upsert(t.id, 'kv', [{ id: 1, v: 'x' }]);
    expect((await c.abort(t.id, 'changed my mind')).state).toBe('ABORTED');
    expect((await c.abort(t.id)).state).toBe('ABORTED');
    await expect(c.upsert(t.id, 'kv', [{ id: 1, v: 'y' }])).rejects.toMatchObject({ code: ErrorCode.TxnAborted });
    await expect(c.commit(t.id)).rejects.toMatchObject({ code: ErrorCode.TxnAborted });
    expect((await stack.catalog.resolve('r', 'main')).hash).toBe(before.hash);
    expect(bus.delivered).toEqual([]);
  });

  it('aborts a transaction left idle past its timeout (TXN_TIMEOUT)', async () => {
    const c = stack.coordinator;
    const t = await c.begin({ repo: 'r', idleTimeoutMs: 30 });
    await c.upsert(t.id, 'kv', [{ id: 1, v: 'x' }]);
    await sleep(200);
    expect(await c.status(t.id)).toMatchObject({ state: 'ABORTED' });
    await expect(c.commit(t.id)).rejects.toMatchObject({ code: ErrorCode.TxnTimeout });
    expect(c.activeCount()).toBe(0);
  });

  it('answers bad input with typed errors', async () => {
    const c = stack.coordinator;
    await expect(c.status('txn-unknown')).rejects.toMatchObject({ code: ErrorCode.TxnNotFound });
    await expect(c.upsert('txn-unknown', 'kv', [])).rejects.toMatchObject({ code: ErrorCode.TxnNotFound });
    await expect(c.status('../etc')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(c.begin({ repo: 'nope' })).rejects.toMatchObject({ code: ErrorCode.RepoNotFound });
    await expect(c.begin({ repo: 'r', branch: 'nope' })).rejects.toMatchObject({ code: ErrorCode.BranchNotFound });
    await expect(c.begin({ repo: 'r', isolation: 'chaos' as never })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const t = await c.begin({ repo: 'r' });
    await expect(c.read(t.id, 'missing')).rejects.toMatchObject({ code: ErrorCode.TableNotFound });
    await expect(c.upsert(t.id, '../x', [])).rejects.toMatchObject({ code: ErrorCode.InvalidName });
    await expect(c.upsert(t.id, 'events', [{ msg: 'x' }])).rejects.toMatchObject({ code: ErrorCode.PrimaryKeyRequired });
    await expect(c.upsert(t.id, 'kv', [{ id: 1, nope: 1 }])).rejects.toMatchObject({ code: ErrorCode.SchemaMismatch });
    await expect(c.createTable(t.id, 'kv', { schema: { fields: [{ name: 'a', type: 'utf8' }] } })).rejects.toMatchObject({ code: ErrorCode.TableExists });
    await expect(c.commit(t.id, { idempotencyKey: '' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    // The failed calls staged nothing: the transaction still commits as a no-op.
    const r = await c.commit(t.id);
    expect(r.tables).toEqual([]);
    expect(r.commit).toBe(t.base);
  });

  it('never commits the same idempotency key twice; a retry returns the first commit', async () => {
    const c = stack.coordinator;
    const t1 = await c.begin({ repo: 'r' });
    await c.append(t1.id, 'events', [{ msg: 'pay 1' }]);
    const first = await c.commit(t1.id, { idempotencyKey: 'order-42' });
    const t2 = await c.begin({ repo: 'r' });
    await c.append(t2.id, 'events', [{ msg: 'pay 1' }]);
    const retry = await c.commit(t2.id, { idempotencyKey: 'order-42' });
    expect(retry).toMatchObject({ commit: first.commit, txnId: t1.id, deduplicated: true });
    expect((await stack.catalog.resolve('r', 'main')).hash).toBe(first.commit);
    expect(plain(await stack.catalog.read('r', 'events'))).toEqual([{ msg: 'first' }, { msg: 'pay 1' }]);
    expect((await stack.log.get(t2.id))?.state).toBe('ABORTED');

    // Concurrent retries of one fresh key: exactly one commit.
    const txns = await Promise.all([1, 2, 3, 4].map(() => c.begin({ repo: 'r' })));
    for (const t of txns) await c.append(t.id, 'events', [{ msg: 'pay 2' }]);
    const results = await Promise.all(txns.map((t) => c.commit(t.id, { idempotencyKey: 'order-43' })));
    expect(new Set(results.map((r) => r.commit)).size).toBe(1);
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
    expect(plain(await stack.catalog.read('r', 'events')).filter((r) => r.msg === 'pay 2')).toHaveLength(1);
  });

  it('serializable isolation fails a commit whose read set changed; snapshot isolation lets it through', async () => {
    const c = stack.coordinator;
    for (const isolation of ['serializable', 'snapshot'] as const) {
      const t = await c.begin({ repo: 'r', isolation });
      const seen = plain(await c.read(t.id, 'kv')).length;
      await c.append(t.id, 'events', [{ msg: `saw ${seen}` }]);
      const other = await c.begin({ repo: 'r' });
      await c.upsert(other.id, 'kv', [{ id: 100 + seen, v: isolation }]);
      await c.commit(other.id);
      if (isolation === 'serializable') {
        const err = await c.commit(t.id).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'kv', kind: 'table' } });
        expect((await c.status(t.id)).state).toBe('ABORTED');
      } else {
        expect((await c.commit(t.id)).rebased).toBe(true);
      }
    }
  });

  it('keeps a commit whose publish failed COMMITTED, and recovery publishes it exactly once', async () => {
    await stack.close();
    let fail = true;
    const flaky: ChangeBus = Object.assign(Object.create(RecordingChangeBus.prototype) as RecordingChangeBus, {
      publish: async (events: Parameters<ChangeBus['publish']>[0]) => {
        if (fail) throw new Error('bus down');
        await bus.publish(events);
      },
    });
    stack = await open({ bus: flaky });
    const c = stack.coordinator;
    const t = await c.begin({ repo: 'r' });
    await c.append(t.id, 'events', [{ msg: 'x' }]);
    const result = await c.commit(t.id);
    expect(result.published).toBe(false);
    expect((await stack.log.get(t.id))?.state).toBe('COMMITTED');
    expect((await stack.log.pending()).map((r) => r.id)).toEqual([t.id]);
    fail = false;
    const report = await c.recover();
    expect(report.finished).toEqual([t.id]);
    await c.recover();
    expect(bus.delivered.filter((e) => e.txnId === t.id)).toHaveLength(1);
    expect((await stack.log.get(t.id))?.state).toBe('DONE');
  });

  it('runs recovery periodically after start()', async () => {
    await stack.close();
    let fail = true;
    const flaky: ChangeBus = Object.assign(Object.create(RecordingChangeBus.prototype) as RecordingChangeBus, {
      publish: async (events: Parameters<ChangeBus['publish']>[0]) => {
        if (fail) throw new Error('bus down');
        await bus.publish(events);
      },
    });
    stack = await open({ bus: flaky, recoveryIntervalMs: 20 });
    await stack.coordinator.start();
    const t = await stack.coordinator.begin({ repo: 'r' });
    await stack.coordinator.append(t.id, 'events', [{ msg: 'later' }]);
    expect((await stack.coordinator.commit(t.id)).published).toBe(false);
    fail = false;
    // No call to recover(): the timer must finish the record on its own.
    for (let i = 0; i < 500 && (await stack.log.get(t.id))?.state !== 'DONE'; i++) await sleep(20);
    expect((await stack.log.get(t.id))?.state).toBe('DONE');
    expect(bus.delivered.filter((e) => e.txnId === t.id)).toHaveLength(1);
  });
});
