import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import type { RefStore } from '@armillaria/catalog';
import { RecordingChangeBus } from './helpers/recording-change-bus.js';
import { openStack, type Stack } from './helpers/stack.js';
import { plain, seedRepo } from './helpers/tables.js';

/**
 * Group commit: transactions of one process committing to one branch at the same time land as a
 * chain of commits with one ref move; each keeps its own commit, record and events, and a member
 * that conflicts with an earlier one fails alone.
 */
let dir: string;
let stack: Stack;
let bus: RecordingChangeBus;
/** Compare-and-swaps of the branch ref `main` of repo `r`. */
let branchMoves: number;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'armillaria-group-'));
  bus = new RecordingChangeBus();
  stack = await openStack({ dir, bus, recoveryIntervalMs: 0 });
  await seedRepo(stack.catalog, 'r');
  branchMoves = 0;
  const refs: RefStore = stack.catalog.refs;
  const cas = refs.compareAndSwap.bind(refs);
  refs.compareAndSwap = (name, expected, next, entry) => {
    if (name === 'repos/r/branches/main') branchMoves++;
    return cas(name, expected, next, entry);
  };
});

afterEach(async () => {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
});

type Committed = { commit: string; parent: string | null; rebased: boolean; attempts: number };
type Outcome = Committed | { code: string };
const outcome = (p: Promise<Committed>): Promise<Outcome> =>
  p.catch((err: { code?: string }) => ({ code: err.code ?? String(err) }));

describe('group commit', () => {
  it('lands concurrent commits as one chain with one ref move; a conflicting member fails alone', async () => {
    const c = stack.coordinator;
    const base = await stack.catalog.resolve('r');
    const reflogBefore = (await stack.catalog.branchReflog('r', 'main')).length;
    // Six transactions on the same snapshot: appends, disjoint upserts, and one upsert of a key an
    // earlier member also writes (it must fail, alone, as if that member had committed first).
    const txns = await Promise.all(Array.from({ length: 6 }, () => c.begin({ repo: 'r' })));
    const [a, b, d, e, f, g] = txns.map((t) => t.id) as [string, string, string, string, string, string];
    await c.append(a, 'events', [{ msg: 'a' }]);
    await c.upsert(b, 'kv', [{ id: 10, v: 'b' }]);
    await c.append(d, 'events', [{ msg: 'd' }]);
    await c.upsert(e, 'kv', [{ id: 10, v: 'e' }]); // same key as b
    await c.upsert(f, 'kv', [{ id: 11, v: 'f' }]);
    await c.deleteRows(g, 'kv', [{ id: 1 }]);
    const results = await Promise.all(txns.map((t, i) => outcome(c.commit(t.id, { message: `m${i}` }))));

    expect(results[3]).toEqual({ code: ErrorCode.TxnConflict });
    expect((await c.status(e)).state).toBe('ABORTED');
    // Conflicting before its PREPARE: it never had a record (nothing for recovery to settle).
    expect((await stack.log.get(e))?.state ?? 'ABORTED').toBe('ABORTED');
    const ok = results.filter((r): r is Exclude<Outcome, { code: string }> => 'commit' in r);
    expect(ok).toHaveLength(5);

    // One chain on the old head, in commit-call order, moved with one compare-and-swap.
    expect(branchMoves).toBe(1);
    expect((await stack.catalog.branchReflog('r', 'main')).length).toBe(reflogBefore + 1);
    const head = await stack.catalog.resolve('r');
    expect(head.hash).toBe(ok[4]?.commit);
    expect(ok.map((r) => r.parent)).toEqual([base.hash, ...ok.slice(0, 4).map((r) => r.commit)]);
    const log = await stack.catalog.log('r', { limit: 5 });
    expect(log.map((x) => x.txnId).reverse()).toEqual([a, b, d, f, g]);
    expect(log.map((x) => x.message).reverse()).toEqual(['m0', 'm1', 'm2', 'm4', 'm5']);
    expect(ok.slice(1).every((r) => r.rebased)).toBe(true);

    // The result is serial execution of the members that committed, in chain order.
    expect(plain(await stack.catalog.read('r', 'kv'))).toEqual([
      { id: 2, v: 'v2' }, { id: 3, v: 'v3' }, { id: 4, v: 'v4' }, { id: 10, v: 'b' }, { id: 11, v: 'f' },
    ]);
    expect(plain(await stack.catalog.read('r', 'events'))).toEqual([{ msg: 'a' }, { msg: 'd' }, { msg: 'first' }]);
    // Each member's table versions follow the chain: kv goes 1 -> 2 (b) -> 3 (f) -> 4 (g).
    const kvEvents = bus.delivered.filter((x) => x.table === 'kv');
    expect(kvEvents.map((x) => [x.txnId, x.versionBefore, x.versionAfter])).toEqual([[b, 1, 2], [f, 2, 3], [g, 3, 4]]);

    // Every member's events exactly once, in commit order, naming its own commit, parent and generation.
    const chain = [...log].reverse();
    expect(bus.delivered.map((x) => x.txnId)).toEqual([a, b, d, f, g]);
    for (const x of bus.delivered) {
      const commit = chain.find((cm) => cm.txnId === x.txnId);
      expect(x).toMatchObject({ commit: commit?.hash, parent: commit?.parents[0], seq: commit?.generation });
    }
    for (const id of [a, b, d, f, g]) expect((await stack.log.get(id))?.state).toBe('DONE');
    expect(await stack.log.pending()).toEqual([]);
  });

  it('groups same-table upserts of disjoint keys: each member is rebased onto the ones before it', async () => {
    const c = stack.coordinator;
    const txns = await Promise.all(Array.from({ length: 5 }, () => c.begin({ repo: 'r' })));
    for (const [i, t] of txns.entries()) await c.upsert(t.id, 'kv', [{ id: 100 + i, v: `x${i}` }]);
    const results = await Promise.all(txns.map((t) => c.commit(t.id)));
    expect(branchMoves).toBe(1);
    expect(results.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect(plain(await stack.catalog.read('r', 'kv')).map((r) => r.id)).toEqual([1, 2, 3, 4, 100, 101, 102, 103, 104]);
    // Each commit's tree holds the rows of the members before it: commit k has k+1 new rows.
    for (const [k, r] of results.entries()) {
      expect(plain(await stack.catalog.read('r', 'kv', { ref: r.commit })).filter((row) => Number(row.id) >= 100)).toHaveLength(k + 1);
    }
  });

  it('re-validates and retries the whole group when another writer moves the branch first', async () => {
    const c = stack.coordinator;
    const catalog = stack.catalog;
    const commitChain = catalog.commitChain.bind(catalog);
    let intruded = false;
    // Another writer (outside the coordinator) commits just before the group's compare-and-swap.
    catalog.commitChain = async (repo, branch, opts) => {
      if (!intruded) {
        intruded = true;
        await catalog.upsert('r', 'kv', [{ id: 2, v: 'intruder' }]);
      }
      return commitChain(repo, branch, opts);
    };
    const txns = await Promise.all(Array.from({ length: 3 }, () => c.begin({ repo: 'r' })));
    await c.upsert(txns[0]?.id as string, 'kv', [{ id: 20, v: 'p' }]);
    await c.upsert(txns[1]?.id as string, 'kv', [{ id: 2, v: 'q' }]); // the intruder's key
    await c.append(txns[2]?.id as string, 'events', [{ msg: 'r' }]);
    const results = await Promise.all(txns.map((t) => outcome(c.commit(t.id))));
    expect(results[1]).toEqual({ code: ErrorCode.TxnConflict });
    expect(results.filter((r) => 'commit' in r).map((r) => (r as { attempts?: number }).attempts)).toEqual([2, 2]);
    expect(plain(await catalog.read('r', 'kv')).filter((r) => r.id === 2 || r.id === 20)).toEqual([{ id: 2, v: 'intruder' }, { id: 20, v: 'p' }]);
    expect(plain(await catalog.read('r', 'events')).map((r) => r.msg)).toEqual(['first', 'r']);
    expect(await stack.log.pending()).toEqual([]);
  });

  it('commits one transaction per turn with maxGroupCommit 1', async () => {
    await stack.close();
    stack = await openStack({ dir, bus, recoveryIntervalMs: 0, maxGroupCommit: 1 });
    const c = stack.coordinator;
    const before = (await stack.catalog.branchReflog('r', 'main')).length;
    const txns = await Promise.all(Array.from({ length: 3 }, () => c.begin({ repo: 'r' })));
    for (const [i, t] of txns.entries()) await c.append(t.id, 'events', [{ msg: `e${i}` }]);
    await Promise.all(txns.map((t) => c.commit(t.id)));
    expect((await stack.catalog.branchReflog('r', 'main')).length).toBe(before + 3);
    await expect(openStack({ dir, maxGroupCommit: 0 })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
