import { afterEach, describe, expect, it } from 'vitest';
import { ArmillariaError, type ErrorCode } from '@armillaria/core';
import type { RefStore } from '../src/index.js';
import { reflogExpiryContract } from './reflog-expiry.contract.js';

/** A valid hash standing for the number `n` (so a counter can live in a ref). */
export const hashOf = (n: number): string => n.toString(16).padStart(64, '0');
const numberOf = (h: string | undefined): number => (h === undefined ? NaN : parseInt(h, 16));

export interface RefStoreContractOptions {
  /**
   * A store whose backend cannot be reached (or fails every call): invalid names must still fail with
   * INVALID_NAME, which proves validation runs before any I/O; valid names fail with `code` if given.
   */
  unreachable?: { factory: () => Promise<RefStore>; code?: ErrorCode };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return err instanceof ArmillariaError ? err.code : `untyped: ${String(err)}`;
  }
  return 'no error';
}

async function conflictOf(p: Promise<unknown>): Promise<Record<string, unknown>> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ArmillariaError);
  expect((err as ArmillariaError).code).toBe('REF_CONFLICT');
  return { ...(err as ArmillariaError).details };
}

export const INVALID_REF_NAMES: readonly unknown[] = [
  '', '..', 'a/../b', 'a/..', '../a', 'a..b', 'a//b', 'a b', ' a', 'a/b ', '/a', 'a/', '/', 'a/./b', '.', 'x'.repeat(256),
  'a\\b', 'a\nb', 'é', 'a:b', 'a~b', 42, undefined, null,
];

/** The behaviour every RefStore implementation promises (see src/refs/ref-store.ts). */
export function refStoreContract(name: string, factory: () => Promise<RefStore>, options: RefStoreContractOptions = {}): void {
  describe(`RefStore contract: ${name}`, () => {
    const open: RefStore[] = [];
    const store = async (): Promise<RefStore> => {
      const s = await factory();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    it('creates, reads, moves and deletes a ref', async () => {
      const refs = await store();
      const ref = 'repos/r1/branches/main';
      expect(await refs.get(ref)).toBeUndefined();
      await refs.compareAndSwap(ref, null, hashOf(1));
      expect(await refs.get(ref)).toBe(hashOf(1));
      await refs.compareAndSwap(ref, hashOf(1), hashOf(2));
      expect(await refs.get(ref)).toBe(hashOf(2));
      await refs.compareAndSwap(ref, hashOf(2), null);
      expect(await refs.get(ref)).toBeUndefined();
      // A deleted ref can be created again.
      await refs.compareAndSwap(ref, null, hashOf(3));
      expect(await refs.get(ref)).toBe(hashOf(3));
    });

    it('refuses a stale expected value with REF_CONFLICT {ref, expected, actual} and changes nothing', async () => {
      const refs = await store();
      const ref = 'repos/r1/branches/dev';
      await refs.compareAndSwap(ref, null, hashOf(1));
      await refs.compareAndSwap(ref, hashOf(1), hashOf(2));
      expect(await conflictOf(refs.compareAndSwap(ref, hashOf(1), hashOf(9)))).toEqual({ ref, expected: hashOf(1), actual: hashOf(2) });
      expect(await refs.get(ref)).toBe(hashOf(2));
      expect(await refs.reflog(ref)).toHaveLength(2);
    });

    it('refuses to create a ref that exists', async () => {
      const refs = await store();
      const ref = 'repos/r1/tags/v1';
      await refs.compareAndSwap(ref, null, hashOf(1));
      expect(await conflictOf(refs.compareAndSwap(ref, null, hashOf(2)))).toEqual({ ref, expected: null, actual: hashOf(1) });
      expect(await refs.get(ref)).toBe(hashOf(1));
    });

    it('refuses to move or delete an absent ref', async () => {
      const refs = await store();
      const ref = 'repos/r1/branches/ghost';
      expect(await conflictOf(refs.compareAndSwap(ref, hashOf(1), null))).toEqual({ ref, expected: hashOf(1), actual: null });
      expect(await conflictOf(refs.compareAndSwap(ref, hashOf(1), hashOf(2)))).toEqual({ ref, expected: hashOf(1), actual: null });
      await refs.compareAndSwap(ref, null, hashOf(1));
      await refs.compareAndSwap(ref, hashOf(1), null);
      expect(await conflictOf(refs.compareAndSwap(ref, hashOf(1), null))).toEqual({ ref, expected: hashOf(1), actual: null });
      expect(await refs.get(ref)).toBeUndefined();
      expect(await refs.list('repos/r1/')).toEqual([]);
      expect(await refs.reflog(ref)).toHaveLength(2);
    });

    it('rejects values that are not hashes, and absent -> absent', async () => {
      const refs = await store();
      expect(await codeOf(refs.compareAndSwap('a', null, 'HEAD'))).toBe('INVALID_HASH');
      expect(await codeOf(refs.compareAndSwap('a', 'abc', hashOf(1)))).toBe('INVALID_HASH');
      expect(await codeOf(refs.compareAndSwap('a', null, hashOf(0xabc).toUpperCase()))).toBe('INVALID_HASH');
      expect(await codeOf(refs.compareAndSwap('a', null, null))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(refs.compareAndSwap('a', null, hashOf(1), { time: -1 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(refs.compareAndSwap('a', null, hashOf(1), { message: 7 as unknown as string }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(refs.reflog('a', { limit: -1 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(refs.reflog('a', { before: Number.NaN }))).toBe('INVALID_ARGUMENT');
      expect(await refs.get('a')).toBeUndefined();
    });

    it('lets exactly one of 16 concurrent racers from the same value win', async () => {
      const refs = await store();
      const ref = 'repos/race/branches/main';
      await refs.compareAndSwap(ref, null, hashOf(0));
      const racers = Array.from({ length: 16 }, (_, i) => refs.compareAndSwap(ref, hashOf(0), hashOf(100 + i), { message: `racer ${i}` }));
      const results = await Promise.allSettled(racers);
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = hashOf(100 + (winners[0] as number));
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(r.reason).toBeInstanceOf(ArmillariaError);
          expect((r.reason as ArmillariaError).code).toBe('REF_CONFLICT');
          expect((r.reason as ArmillariaError).details).toEqual({ ref, expected: hashOf(0), actual: winner });
        }
      }
      expect(await refs.get(ref)).toBe(winner);
      const log = await refs.reflog(ref);
      expect(log.map((e) => [e.old, e.new])).toEqual([[hashOf(0), winner], [null, hashOf(0)]]);
    });

    it('applies concurrent moves of different refs independently: each lands or conflicts on its own', async () => {
      const refs = await store();
      const name = (i: number): string => `repos/many/branches/b${String(i).padStart(2, '0')}`;
      for (let i = 0; i < 40; i += 4) await refs.compareAndSwap(name(i), null, hashOf(1)); // every 4th exists already
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => refs.compareAndSwap(name(i), null, hashOf(1000 + i), { message: `m${i}` })));
      results.forEach((r, i) => expect(r.status, name(i)).toBe(i % 4 === 0 ? 'rejected' : 'fulfilled'));
      expect(await refs.list('repos/many/')).toEqual(Array.from({ length: 40 }, (_, i) => ({ name: name(i), value: i % 4 === 0 ? hashOf(1) : hashOf(1000 + i) })));
      for (const i of [1, 4, 39]) {
        expect((await refs.reflog(name(i))).map((e) => [e.old, e.new, e.message])).toEqual([[null, i % 4 === 0 ? hashOf(1) : hashOf(1000 + i), i % 4 === 0 ? undefined : `m${i}`]]);
      }
    });

    it('loses no update when 8 workers increment a counter with retry loops', async () => {
      const refs = await store();
      const ref = 'repos/count/branches/main';
      await refs.compareAndSwap(ref, null, hashOf(0));
      const perWorker = 10;
      let successes = 0;
      const worker = async (w: number): Promise<void> => {
        for (let done = 0; done < perWorker; ) {
          const current = await refs.get(ref);
          try {
            await refs.compareAndSwap(ref, current ?? null, hashOf(numberOf(current) + 1), { author: `worker-${w}` });
            successes++;
            done++;
          } catch (err) {
            if (!(err instanceof ArmillariaError) || err.code !== 'REF_CONFLICT') throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      expect(successes).toBe(8 * perWorker);
      expect(numberOf(await refs.get(ref))).toBe(successes);
      const log = await refs.reflog(ref);
      expect(log).toHaveLength(successes + 1);
      // Newest first, and every entry starts where the next older one ended: one unbroken chain.
      for (let i = 0; i + 1 < log.length; i++) expect(log[i]?.old).toBe(log[i + 1]?.new);
      expect(log.map((e) => numberOf(e.new ?? undefined))).toEqual(Array.from({ length: successes + 1 }, (_, i) => successes - i));
    });

    it('lists refs by string prefix, sorted by name, without deleted refs', async () => {
      const refs = await store();
      const names = ['a/bc', 'a/b/c', 'b/x', 'a/b', 'a/b-x', 'a/b/c/d', 'ab', 'a/gone'];
      for (const [i, n] of names.entries()) await refs.compareAndSwap(n, null, hashOf(i));
      await refs.compareAndSwap('a/gone', hashOf(7), null);
      const entry = (n: string) => ({ name: n, value: hashOf(names.indexOf(n)) });
      expect(await refs.list('a/b')).toEqual(['a/b', 'a/b-x', 'a/b/c', 'a/b/c/d', 'a/bc'].map(entry));
      expect(await refs.list('a/b/')).toEqual(['a/b/c', 'a/b/c/d'].map(entry));
      expect(await refs.list('a/b/c/d')).toEqual([entry('a/b/c/d')]);
      expect(await refs.list('')).toEqual(['a/b', 'a/b-x', 'a/b/c', 'a/b/c/d', 'a/bc', 'ab', 'b/x'].map(entry));
      expect(await refs.list('a')).toEqual(['a/b', 'a/b-x', 'a/b/c', 'a/b/c/d', 'a/bc', 'ab'].map(entry));
      expect(await refs.list('zz')).toEqual([]);
      expect(await refs.list('a/gone')).toEqual([]);
      // Prefixes no valid name can start with match nothing (and never reach storage as a path).
      expect(await refs.list('../')).toEqual([]);
      expect(await refs.list('a//')).toEqual([]);
      expect(await refs.list('a b')).toEqual([]);
      expect(await codeOf(refs.list(3 as unknown as string))).toBe('INVALID_ARGUMENT');
    });

    it('keeps a reflog, newest first, with old/new/time/message/author, after a delete too', async () => {
      const refs = await store();
      const ref = 'repos/log/branches/main';
      expect(await refs.reflog(ref)).toEqual([]);
      await refs.compareAndSwap(ref, null, hashOf(1), { time: 1000, message: 'create', author: 'ann' });
      await refs.compareAndSwap(ref, hashOf(1), hashOf(2), { time: 2000, message: 'commit: "quoted"\nsecond line' });
      await refs.compareAndSwap(ref, hashOf(2), null, { time: 3000, author: 'bob' });
      expect(await refs.get(ref)).toBeUndefined();
      expect(await refs.reflog(ref)).toEqual([
        { name: ref, old: hashOf(2), new: null, time: 3000, author: 'bob' },
        { name: ref, old: hashOf(1), new: hashOf(2), time: 2000, message: 'commit: "quoted"\nsecond line' },
        { name: ref, old: null, new: hashOf(1), time: 1000, message: 'create', author: 'ann' },
      ]);
      // The reflog of one ref never includes a ref nested below it.
      await refs.compareAndSwap(`${ref}/child`, null, hashOf(5), { time: 4000 });
      expect(await refs.reflog(ref)).toHaveLength(3);
    });

    it('stamps entries with the current time by default and never lets time go backwards', async () => {
      const refs = await store();
      const ref = 'repos/time/branches/main';
      const t0 = Date.now();
      await refs.compareAndSwap(ref, null, hashOf(1));
      const t1 = Date.now();
      const [first] = await refs.reflog(ref);
      expect(first?.time).toBeGreaterThanOrEqual(t0);
      expect(first?.time).toBeLessThanOrEqual(t1);
      await refs.compareAndSwap(ref, hashOf(1), hashOf(2), { time: 5 });
      const [second] = await refs.reflog(ref, { limit: 1 });
      expect(second).toMatchObject({ new: hashOf(2), time: first?.time });
    });

    it('pages the reflog with before and limit', async () => {
      const refs = await store();
      const ref = 'repos/page/branches/main';
      await refs.compareAndSwap(ref, null, hashOf(1), { time: 1000 });
      for (let i = 2; i <= 6; i++) await refs.compareAndSwap(ref, hashOf(i - 1), hashOf(i), { time: i * 1000 });
      await refs.compareAndSwap(ref, hashOf(6), hashOf(7), { time: 6000 }); // same time as the previous entry
      const times = async (opts?: { limit?: number; before?: number }) => (await refs.reflog(ref, opts)).map((e) => [e.time, numberOf(e.new ?? undefined)]);
      expect(await times()).toEqual([[6000, 7], [6000, 6], [5000, 5], [4000, 4], [3000, 3], [2000, 2], [1000, 1]]);
      expect(await times({ limit: 3 })).toEqual([[6000, 7], [6000, 6], [5000, 5]]);
      expect(await times({ before: 3000 })).toEqual([[2000, 2], [1000, 1]]);
      expect(await times({ before: 4500, limit: 1 })).toEqual([[4000, 4]]);
      expect(await times({ before: 6001, limit: 2 })).toEqual([[6000, 7], [6000, 6]]);
      expect(await times({ before: 1000 })).toEqual([]);
      expect(await times({ limit: 0 })).toEqual([]);
      expect(await times({ limit: 100 })).toHaveLength(7);
    });

    it('answers reflogValue as the newest entry before a time, as reflog(limit 1) does', async () => {
      const refs = await store();
      const ref = 'repos/value/branches/main';
      expect(await refs.reflogValue(ref, Infinity)).toBeUndefined();
      await refs.compareAndSwap(ref, null, hashOf(1), { time: 1000, message: 'create' });
      await refs.compareAndSwap(ref, hashOf(1), hashOf(2), { time: 2000 });
      await refs.compareAndSwap(ref, hashOf(2), hashOf(3), { time: 2000 }); // same time as the previous entry
      await refs.compareAndSwap(ref, hashOf(3), null, { time: 3000 });
      await refs.compareAndSwap(ref, null, hashOf(4), { time: 4000 });
      for (const before of [999, 1000, 1001, 1999.5, 2000, 2001, 3000, 3000.5, 3001, 4000, 4001, Infinity]) {
        const [e] = await refs.reflog(ref, { before, limit: 1 });
        expect(await refs.reflogValue(ref, before), `before ${before}`).toEqual(e && { value: e.new, time: e.time });
      }
      expect(await refs.reflogValue(ref, 2001)).toEqual({ value: hashOf(3), time: 2000 });
      expect(await refs.reflogValue(ref, 3001)).toEqual({ value: null, time: 3000 });
      expect(await refs.reflogValue(ref, 1000)).toBeUndefined();
      expect(await refs.reflogValue('repos/value/branches/never', Infinity)).toBeUndefined();
      // A ref nested below it has its own reflog.
      await refs.compareAndSwap(`${ref}/child`, null, hashOf(5), { time: 5000 });
      expect(await refs.reflogValue(ref, Infinity)).toEqual({ value: hashOf(4), time: 4000 });
      for (const bad of [Number.NaN, -Infinity, '2000', undefined]) {
        expect(await codeOf(refs.reflogValue(ref, bad as number)), String(bad)).toBe('INVALID_ARGUMENT');
      }
    });

    it('accepts names at the limits of the rules', async () => {
      const refs = await store();
      const valid = ['x'.repeat(255), 'A-Z_a.z/0-9', `${'s'.repeat(100)}/${'t'.repeat(100)}/${'u'.repeat(53)}`, '.hidden/x', 'a.b/c-d_e'];
      for (const [i, n] of valid.entries()) {
        await refs.compareAndSwap(n, null, hashOf(i));
        expect(await refs.get(n)).toBe(hashOf(i));
      }
      expect((await refs.list('')).map((e) => e.name)).toEqual([...valid].sort());
    });

    it('rejects invalid names with INVALID_NAME in every method', async () => {
      const refs = await store();
      for (const bad of INVALID_REF_NAMES) {
        const n = bad as string;
        expect(await codeOf(refs.get(n)), `get ${JSON.stringify(bad)}`).toBe('INVALID_NAME');
        expect(await codeOf(refs.compareAndSwap(n, null, hashOf(1))), `cas ${JSON.stringify(bad)}`).toBe('INVALID_NAME');
        expect(await codeOf(refs.reflog(n)), `reflog ${JSON.stringify(bad)}`).toBe('INVALID_NAME');
        expect(await codeOf(refs.reflogValue(n, Infinity)), `reflogValue ${JSON.stringify(bad)}`).toBe('INVALID_NAME');
      }
      expect(await refs.list('')).toEqual([]);
    });

    reflogExpiryContract(store);

    if (options.unreachable) {
      const unreachable = options.unreachable;
      it('validates names before any I/O (INVALID_NAME even when the backend is unreachable)', async () => {
        const refs = await unreachable.factory();
        open.push(refs);
        for (const bad of ['a//b', '..', 'a b', 'x'.repeat(256)]) {
          expect(await codeOf(refs.get(bad))).toBe('INVALID_NAME');
          expect(await codeOf(refs.compareAndSwap(bad, null, hashOf(1)))).toBe('INVALID_NAME');
          expect(await codeOf(refs.reflog(bad))).toBe('INVALID_NAME');
          expect(await codeOf(refs.reflogValue(bad, 1000))).toBe('INVALID_NAME');
        }
        const calls = [
          () => refs.get('a/b'), () => refs.compareAndSwap('a/b', null, hashOf(1)), () => refs.list('a/'), () => refs.reflog('a/b'), () => refs.reflogValue('a/b', 1000),
          () => refs.expireReflog(1000),
        ];
        for (const call of calls) {
          const code = await codeOf(call());
          expect(code).not.toBe('no error');
          if (unreachable.code) expect(code).toBe(unreachable.code);
        }
      });
    }
  });
}
