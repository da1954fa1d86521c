import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { tableToRows } from '@armillaria/catalog';
import type { TxnApi } from '../src/index.js';
import { openStack, type Stack } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';

/**
 * The README's conflict rules, pair by pair: `first` commits while `second` is open on the same
 * snapshot, then `second` commits. `ok` must equal running them one after the other; `conflict` must
 * throw TXN_CONFLICT naming the table (and keys) and leave the state `first` made.
 */
type Op = (c: TxnApi, txn: string) => Promise<unknown>;
const ops: Record<string, Op> = {
  'append events': (c, t) => c.append(t, 'events', [{ msg: `e-${t.slice(-6)}` }]),
  'overwrite events': (c, t) => c.write(t, 'events', [{ msg: 'only' }]),
  'upsert kv 1': (c, t) => c.upsert(t, 'kv', [{ id: 1, v: `u-${t.slice(-6)}` }]),
  'upsert kv 2': (c, t) => c.upsert(t, 'kv', [{ id: 2, v: `u-${t.slice(-6)}` }]),
  'upsert kv 9': (c, t) => c.upsert(t, 'kv', [{ id: 9, v: `u-${t.slice(-6)}` }]),
  'delete kv 1': (c, t) => c.deleteRows(t, 'kv', [{ id: 1 }]),
  'delete kv 2': (c, t) => c.deleteRows(t, 'kv', [{ id: 2 }]),
  'append kv 9': (c, t) => c.append(t, 'kv', [{ id: 9, v: 'a9' }]),
  'append kv 10': (c, t) => c.append(t, 'kv', [{ id: 10, v: 'a10' }]),
  'overwrite kv': (c, t) => c.write(t, 'kv', [{ id: 5, v: 'w5' }]),
  'drop kv': (c, t) => c.dropTable(t, 'kv'),
  'add column kv': (c, t) => c.addColumn(t, 'kv', { name: 'extra', type: 'utf8' }),
  'create fresh': (c, t) => c.createTable(t, 'fresh', { schema: { fields: [{ name: 'x', type: 'utf8' }] } }),
};

type Expect = 'ok' | { table: string; kind: 'table' | 'keys'; keys?: unknown[][] };
const matrix: Array<[string, string, Expect]> = [
  ['append events', 'append events', 'ok'],
  ['upsert kv 1', 'upsert kv 2', 'ok'],
  ['upsert kv 1', 'upsert kv 1', { table: 'kv', kind: 'keys', keys: [[1]] }],
  ['delete kv 1', 'upsert kv 1', { table: 'kv', kind: 'keys', keys: [[1]] }],
  ['upsert kv 1', 'delete kv 1', { table: 'kv', kind: 'keys', keys: [[1]] }],
  ['delete kv 1', 'delete kv 2', 'ok'],
  ['upsert kv 1', 'delete kv 2', 'ok'],
  ['append kv 9', 'append kv 10', 'ok'],
  ['append kv 9', 'upsert kv 9', { table: 'kv', kind: 'keys', keys: [[9]] }],
  ['upsert kv 9', 'append kv 9', { table: 'kv', kind: 'keys', keys: [[9]] }],
  ['overwrite kv', 'upsert kv 2', { table: 'kv', kind: 'table' }],
  ['upsert kv 1', 'overwrite kv', { table: 'kv', kind: 'table' }],
  ['overwrite events', 'append events', { table: 'events', kind: 'table' }],
  ['append events', 'overwrite events', { table: 'events', kind: 'table' }],
  ['drop kv', 'upsert kv 1', { table: 'kv', kind: 'table' }],
  ['upsert kv 1', 'drop kv', { table: 'kv', kind: 'table' }],
  ['add column kv', 'upsert kv 2', { table: 'kv', kind: 'table' }],
  ['upsert kv 1', 'add column kv', { table: 'kv', kind: 'table' }],
  ['create fresh', 'create fresh', { table: 'fresh', kind: 'table' }],
  ['overwrite kv', 'overwrite events', 'ok'],
  ['drop kv', 'append events', 'ok'],
  ['add column kv', 'append events', 'ok'],
];

let dir: string;
let stack: Stack;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-txn-matrix-'));
  stack = await openStack({ dir, recoveryIntervalMs: 0 });
});
afterAll(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

async function state(repo: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const t of await stack.catalog.listTables(repo)) {
    // Values written by a txn carry its id suffix: compare shapes, not the random ids.
    out[t.table] = plain(await stack.catalog.read(repo, t.table)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/-[0-9a-f]{6}$/, '-*') : v])));
  }
  return out;
}

async function serial(repo: string, names: string[]): Promise<Record<string, unknown>> {
  const c = stack.coordinator;
  await seedRepo(stack.catalog, repo);
  for (const name of names) {
    const t = await c.begin({ repo });
    await ops[name]?.(c, t.id);
    await c.commit(t.id);
  }
  return state(repo);
}

describe('conflict matrix', () => {
  matrix.forEach(([first, second, expected], i) => {
    it(`${first} committed, then ${second}: ${expected === 'ok' ? 'both commit' : `TXN_CONFLICT on ${expected.table}`}`, async () => {
      const c = stack.coordinator;
      const repo = `m${i}`;
      await seedRepo(stack.catalog, repo);
      const t2 = await c.begin({ repo });
      const t1 = await c.begin({ repo });
      await ops[first]?.(c, t1.id);
      await ops[second]?.(c, t2.id);
      await c.commit(t1.id);
      const outcome = await c.commit(t2.id).catch((e: unknown) => e);
      if (expected === 'ok') {
        expect(outcome).toMatchObject({ rebased: true, attempts: 1 });
        expect(await state(repo)).toEqual(await serial(`m${i}-serial`, [first, second]));
      } else {
        expect(outcome).toMatchObject({ code: ErrorCode.TxnConflict, details: { txnId: t2.id, table: expected.table, kind: expected.kind } });
        if (expected.keys) expect((outcome as { details: { keys: unknown } }).details.keys).toEqual(expected.keys);
        expect((await c.status(t2.id)).state).toBe('ABORTED');
        expect(await state(repo)).toEqual(await serial(`m${i}-serial`, [first]));
      }
    });
  });

  // The same pairs committed at once, in one group commit: `second` is validated against `first` as if
  // `first` had committed before it, with the same outcome (a create goes in a turn of its own).
  matrix.forEach(([first, second, expected], i) => {
    it(`in one group: ${first}, then ${second}: ${expected === 'ok' ? 'both commit' : `TXN_CONFLICT on ${expected.table}`}`, async () => {
      const c = stack.coordinator;
      const repo = `g${i}`;
      await seedRepo(stack.catalog, repo);
      const movesBefore = (await stack.catalog.branchReflog(repo, 'main')).length;
      const t2 = await c.begin({ repo });
      const t1 = await c.begin({ repo });
      await ops[first]?.(c, t1.id);
      await ops[second]?.(c, t2.id);
      const [r1, outcome] = await Promise.all([c.commit(t1.id), c.commit(t2.id).catch((e: unknown) => e)]);
      expect(r1).toMatchObject({ attempts: 1, rebased: false });
      const moves = (await stack.catalog.branchReflog(repo, 'main')).length - movesBefore;
      if (expected === 'ok') {
        expect(outcome).toMatchObject({ rebased: true, attempts: 1, parent: r1.commit });
        expect(moves).toBe(first === 'create fresh' ? 2 : 1);
        expect(await state(repo)).toEqual(await serial(`g${i}-serial`, [first, second]));
      } else {
        expect(outcome).toMatchObject({ code: ErrorCode.TxnConflict, details: { txnId: t2.id, table: expected.table, kind: expected.kind } });
        if (expected.keys) expect((outcome as { details: { keys: unknown } }).details.keys).toEqual(expected.keys);
        expect((await c.status(t2.id)).state).toBe('ABORTED');
        expect(moves).toBe(1);
        expect(await state(repo)).toEqual(await serial(`g${i}-serial`, [first]));
      }
    });
  });

  it('commits made outside the coordinator count too: a catalog upsert of the same key conflicts', async () => {
    const c = stack.coordinator;
    await seedRepo(stack.catalog, 'x1');
    const t = await c.begin({ repo: 'x1' });
    await c.upsert(t.id, 'kv', [{ id: 3, v: 'mine' }]);
    await stack.catalog.upsert('x1', 'kv', [{ id: 3, v: 'theirs' }]);
    await expect(c.commit(t.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'kv', kind: 'keys', keys: [[3]] } });
  });

  it('commits made outside the coordinator count too: a catalog overwrite fails a blind append', async () => {
    const c = stack.coordinator;
    await seedRepo(stack.catalog, 'x2');
    const t = await c.begin({ repo: 'x2' });
    await c.append(t.id, 'events', [{ msg: 'mine' }]);
    await stack.catalog.write('x2', 'events', [{ msg: 'replaced' }]);
    await expect(c.commit(t.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'events', kind: 'table' } });
    const t2 = await c.begin({ repo: 'x2' });
    await c.append(t2.id, 'events', [{ msg: 'mine' }]);
    await stack.catalog.append('x2', 'events', [{ msg: 'theirs' }]);
    expect((await c.commit(t2.id)).rebased).toBe(true);
    expect(plain(await stack.catalog.read('x2', 'events')).map((r) => r.msg)).toEqual(['mine', 'replaced', 'theirs']);
  });

  it('a concurrent compaction (same rows in new chunks, no coordinator record) does not fail a blind append', async () => {
    const c = stack.coordinator;
    await seedRepo(stack.catalog, 'x3');
    for (const msg of ['b', 'c']) await stack.catalog.append('x3', 'events', [{ msg }]);
    const t = await c.begin({ repo: 'x3' });
    await c.append(t.id, 'events', [{ msg: 'mine' }]);
    const compacted = await stack.catalog.compactTable('x3', 'events');
    expect(compacted.unchanged).toBeUndefined();
    expect((await c.commit(t.id)).rebased).toBe(true);
    expect(tableToRows(await stack.catalog.read('x3', 'events')).map((r) => r.msg)).toEqual(['first', 'b', 'c', 'mine']);
    // A rewrite that changes rows still conflicts (the rule above is about rows, not chunks).
    const t2 = await c.begin({ repo: 'x3' });
    await c.append(t2.id, 'events', [{ msg: 'again' }]);
    await stack.catalog.write('x3', 'events', [{ msg: 'first' }, { msg: 'b' }]);
    await expect(c.commit(t2.id)).rejects.toMatchObject({ code: ErrorCode.TxnConflict, details: { table: 'events', kind: 'table' } });
  });
});
