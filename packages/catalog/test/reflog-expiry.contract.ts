import { expect, it } from 'vitest';
import { ArmillariaError } from '@armillaria/core';
import type { RefStore } from '../src/index.js';

const hashOf = (n: number): string => n.toString(16).padStart(64, '0');
const numberOf = (h: string | null): number => (h === null ? NaN : parseInt(h, 16));

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'no error', (e: unknown) => (e instanceof ArmillariaError ? e.code : `untyped: ${String(e)}`));
}

/** [time, new value as a number] of each reflog entry, newest first. */
async function history(refs: RefStore, name: string, opts?: { before?: number; limit?: number }): Promise<[number, number][]> {
  return (await refs.reflog(name, opts)).map((e) => [e.time, numberOf(e.new)]);
}

/** Moves `name` through values 1..n at times 1000, 2000, ... (created at 1000). */
async function walk(refs: RefStore, name: string, n: number, start = 1): Promise<void> {
  await refs.compareAndSwap(name, null, hashOf(start), { time: start * 1000, message: `m${start}` });
  for (let i = start + 1; i <= n; i++) await refs.compareAndSwap(name, hashOf(i - 1), hashOf(i), { time: i * 1000, message: `m${i}` });
}

/**
 * RefStore.expireReflog, registered inside refStoreContract so it runs on every implementation.
 * `store` opens a fresh, empty store (closed by the contract's afterEach).
 */
export function reflogExpiryContract(store: () => Promise<RefStore>): void {
  it('expireReflog drops entries older than before but keeps the newest of them, so ref@{before} still resolves', async () => {
    const refs = await store();
    const ref = 'repos/x/branches/main';
    await walk(refs, ref, 6); // times 1000..6000
    const atBefore = await refs.reflog(ref, { before: 3501, limit: 1 });
    expect(await refs.expireReflog(3500)).toEqual({ entriesRemoved: 2, refsForgotten: 0 });
    expect(await history(refs, ref)).toEqual([[6000, 6], [5000, 5], [4000, 4], [3000, 3]]);
    expect(await refs.reflog(ref, { before: 3501, limit: 1 })).toEqual(atBefore);
    expect((await refs.reflog(ref, { before: 3001 }))[0]).toMatchObject({ old: hashOf(2), new: hashOf(3), time: 3000, message: 'm3' });
    // Idempotent; an entry exactly at `before` is not older than it.
    expect(await refs.expireReflog(3500)).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect(await refs.expireReflog(4000)).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect(await refs.expireReflog(4001)).toEqual({ entriesRemoved: 1, refsForgotten: 0 });
    expect(await history(refs, ref)).toEqual([[6000, 6], [5000, 5], [4000, 4]]);
    // The value is untouched and the ref keeps moving, its times still never going back.
    expect(await refs.get(ref)).toBe(hashOf(6));
    await refs.compareAndSwap(ref, hashOf(6), hashOf(7), { time: 10 });
    expect(await history(refs, ref, { limit: 2 })).toEqual([[6000, 7], [6000, 6]]);
  });

  it('expireReflog keeps one entry of an existing ref whose whole reflog is old, and of a deleted ref with newer history', async () => {
    const refs = await store();
    await walk(refs, 'a/quiet', 3); // exists, all entries old
    await walk(refs, 'a/gone-late', 3);
    await refs.compareAndSwap('a/gone-late', hashOf(3), null, { time: 9000 }); // deleted after before
    await walk(refs, 'a/recreated', 2);
    await refs.compareAndSwap('a/recreated', hashOf(2), null, { time: 2500 });
    await refs.compareAndSwap('a/recreated', null, hashOf(8), { time: 9500 }); // deleted before, created again after
    expect(await refs.expireReflog(5000)).toEqual({ entriesRemoved: 2 + 2 + 2, refsForgotten: 0 });
    expect(await history(refs, 'a/quiet')).toEqual([[3000, 3]]);
    expect(await history(refs, 'a/gone-late')).toEqual([[9000, NaN], [3000, 3]]);
    expect(await history(refs, 'a/recreated')).toEqual([[9500, 8], [2500, NaN]]);
    expect(await refs.list('a/')).toEqual([{ name: 'a/quiet', value: hashOf(3) }, { name: 'a/recreated', value: hashOf(8) }]);
  });

  it('expireReflog forgets a deleted ref whose whole reflog is old; it can be created again', async () => {
    const refs = await store();
    await walk(refs, 'd/old', 3);
    await refs.compareAndSwap('d/old', hashOf(3), null, { time: 4000 });
    await walk(refs, 'd/kept', 2);
    expect(await refs.expireReflog(4001)).toEqual({ entriesRemoved: 4 + 1, refsForgotten: 1 });
    expect(await refs.reflog('d/old')).toEqual([]);
    expect(await refs.get('d/old')).toBeUndefined();
    expect(await history(refs, 'd/kept')).toEqual([[2000, 2]]);
    await refs.compareAndSwap('d/old', null, hashOf(5), { time: 7000 });
    expect(await history(refs, 'd/old')).toEqual([[7000, 5]]);
    expect(await refs.list('d/')).toEqual([{ name: 'd/kept', value: hashOf(2) }, { name: 'd/old', value: hashOf(5) }]);
  });

  it('expireReflog touches only refs under the prefix (a plain string prefix)', async () => {
    const refs = await store();
    for (const name of ['repos/r1/branches/main', 'repos/r1/commits/ab/x', 'repos/r10/branches/main', 'repos/r2/branches/main']) await walk(refs, name, 3);
    await refs.compareAndSwap('repos/r1/branches/dead', null, hashOf(1), { time: 1000 });
    await refs.compareAndSwap('repos/r1/branches/dead', hashOf(1), null, { time: 1500 });
    expect(await refs.expireReflog(10_000, { prefix: 'repos/r1/' })).toEqual({ entriesRemoved: 2 + 2 + 2, refsForgotten: 1 });
    expect(await history(refs, 'repos/r1/branches/main')).toEqual([[3000, 3]]);
    expect(await history(refs, 'repos/r1/commits/ab/x')).toEqual([[3000, 3]]);
    expect(await history(refs, 'repos/r1/branches/dead')).toEqual([]);
    expect(await refs.reflog('repos/r10/branches/main')).toHaveLength(3);
    expect(await refs.reflog('repos/r2/branches/main')).toHaveLength(3);
    expect(await refs.expireReflog(10_000, { prefix: 'repos/r1' })).toEqual({ entriesRemoved: 2, refsForgotten: 0 }); // r10 too
    expect(await refs.reflog('repos/r2/branches/main')).toHaveLength(3);
    // A prefix no valid name starts with removes nothing; no prefix means every ref.
    expect(await refs.expireReflog(10_000, { prefix: '../' })).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
    expect(await refs.expireReflog(10_000)).toEqual({ entriesRemoved: 2, refsForgotten: 0 });
    expect(await refs.list('repos/')).toHaveLength(4);
  });

  it('expireReflog keeps every reflog whole while racing compare-and-swaps on the same refs', async () => {
    const refs = await store();
    const names = ['race/a', 'race/b', 'race/c'];
    for (const n of names) await walk(refs, n, 5);
    // Moves stamped now (far after `before`) racing an expiry of the old history.
    const moves = names.map(async (n) => {
      for (let i = 6; i <= 10; i++) await refs.compareAndSwap(n, hashOf(i - 1), hashOf(i));
    });
    const [expired] = await Promise.all([refs.expireReflog(4500), ...moves]);
    expect(expired).toEqual({ entriesRemoved: 3 * 3, refsForgotten: 0 });
    for (const n of names) {
      expect(await refs.get(n)).toBe(hashOf(10));
      expect((await refs.reflog(n)).map((e) => numberOf(e.new))).toEqual([10, 9, 8, 7, 6, 5, 4]);
    }
  });

  it('expireReflog rejects bad arguments with INVALID_ARGUMENT and removes nothing', async () => {
    const refs = await store();
    await walk(refs, 'bad/args', 3);
    for (const before of [Number.NaN, Infinity, -Infinity, '1000', null, undefined]) {
      expect(await codeOf(refs.expireReflog(before as number)), String(before)).toBe('INVALID_ARGUMENT');
    }
    expect(await codeOf(refs.expireReflog(5000, { prefix: 7 as unknown as string }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(refs.expireReflog(5000, 'x' as unknown as { prefix: string }))).toBe('INVALID_ARGUMENT');
    expect(await refs.reflog('bad/args')).toHaveLength(3);
    // An empty store (fs: no log file yet) has nothing to expire.
    expect(await (await store()).expireReflog(5000)).toEqual({ entriesRemoved: 0, refsForgotten: 0 });
  });
}
