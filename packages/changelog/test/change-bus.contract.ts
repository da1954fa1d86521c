import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import type { ChangeBus, DeliveredEvent } from '../src/index.js';
import { makeEvent, take, tablesOf } from './helpers.js';

export interface BusFixture {
  bus: ChangeBus;
  /** A second instance over the same storage (a process restart); the old one stays usable until closed. */
  reopen(): Promise<ChangeBus>;
  /** Backend-specific check that a stalled follower holds a bounded number of events (optional). */
  bufferedByFollower?(): Promise<number>;
  cleanup(): Promise<void>;
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(isArmillariaError(err) ? err.code : err).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** The ChangeBus contract: every implementation runs it (`changeBusContract('nats', …)`). */
export function changeBusContract(name: string, makeFixture: () => Promise<BusFixture>): void {
  describe(`ChangeBus contract: ${name}`, () => {
    let fx: BusFixture;
    const extra: ChangeBus[] = [];
    const setup = async (): Promise<ChangeBus> => {
      fx = await makeFixture();
      return fx.bus;
    };
    afterEach(async () => {
      for (const b of extra.splice(0)) await b.close();
      await fx?.bus.close();
      await fx?.cleanup();
    });

    it('delivers published events in publish order with increasing bus sequences', async () => {
      const bus = await setup();
      expect(await bus.lastSeq()).toBe(0);
      const events = Array.from({ length: 40 }, (_, i) => makeEvent({ table: `t${i % 3}` }));
      for (let i = 0; i < 40; i += 10) await bus.publish(events.slice(i, i + 10));
      expect(await bus.lastSeq()).toBe(40);
      const got = await take(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 }), 40);
      expect(got.map((d) => d.event.commit)).toEqual(events.map((e) => e.commit));
      expect(got.map((d) => d.busSeq)).toEqual(events.map((_, i) => i + 1));
      expect(got[5]!.event).toEqual(events[5]);
    });

    it('follows live: a follower without a start sees only events published after it started', async () => {
      const bus = await setup();
      await bus.publish([makeEvent(), makeEvent()]);
      const it = bus.follow({ repo: 'r', branch: 'main' })[Symbol.asyncIterator]();
      const first = it.next();
      // The follower is set up lazily on the first next(); give it a moment before publishing.
      await new Promise((r) => setTimeout(r, 200));
      const late = makeEvent();
      await bus.publish([late]);
      const r = await first;
      expect(r.done).toBe(false);
      expect((r.value as DeliveredEvent).event.commit).toBe(late.commit);
      expect((r.value as DeliveredEvent).busSeq).toBe(3);
      await it.return?.();
    });

    it('filters by repo, branch and tables', async () => {
      const bus = await setup();
      await bus.publish([
        makeEvent({ table: 'a' }), makeEvent({ table: 'b' }), makeEvent({ table: 'c' }),
        makeEvent({ table: 'a', branch: 'dev' }), makeEvent({ table: 'a', repo: 'other' }), makeEvent({ table: 'a' }),
      ]);
      const onlyA = await take(bus.follow({ repo: 'r', branch: 'main', tables: ['a'] }, { afterBusSeq: 0 }), 2);
      expect(tablesOf(onlyA)).toEqual(['a', 'a']);
      expect(onlyA.map((d) => d.busSeq)).toEqual([1, 6]);
      const ab = await take(bus.follow({ repo: 'r', branch: 'main', tables: ['a', 'b'] }, { afterBusSeq: 0 }), 3);
      expect(tablesOf(ab)).toEqual(['a', 'b', 'a']);
      const dev = await take(bus.follow({ repo: 'r', branch: 'dev' }, { afterBusSeq: 0 }), 1);
      expect(dev[0]!.busSeq).toBe(4);
      const other = await take(bus.follow({ repo: 'other', branch: 'main' }, { afterBusSeq: 0 }), 1);
      expect(other[0]!.busSeq).toBe(5);
    });

    it('keeps names with dots, slashes, wildcards and spaces apart', async () => {
      const bus = await setup();
      const odd = { repo: 'acme.prod', branch: 'feature/x y', table: 'orders.*>' };
      await bus.publish([
        makeEvent({ ...odd }), makeEvent({ repo: 'acme', branch: 'prod.feature', table: 'x' }),
        makeEvent({ ...odd, table: 'orders' }), makeEvent({ ...odd, table: 'orders.%2E' }),
      ]);
      const got = await take(bus.follow({ repo: odd.repo, branch: odd.branch, tables: [odd.table] }, { afterBusSeq: 0 }), 1);
      expect(got[0]!.event).toMatchObject(odd);
      const all = await take(bus.follow({ repo: odd.repo, branch: odd.branch }, { afterBusSeq: 0 }), 3);
      expect(tablesOf(all)).toEqual(['orders.*>', 'orders', 'orders.%2E']);
      const pct = await take(bus.follow({ repo: odd.repo, branch: odd.branch, tables: ['orders.%2E'] }, { afterBusSeq: 0 }), 1);
      expect(pct[0]!.busSeq).toBe(4);
    });

    it('deduplicates a republish by txn id and table, also within one batch', async () => {
      const bus = await setup();
      const a = makeEvent({ table: 'a' });
      const b = makeEvent({ table: 'b', txnId: a.txnId, commit: a.commit, seq: a.seq });
      await bus.publish([a, b]);
      await bus.publish([a, b]);
      await bus.publish([b, makeEvent({ ...a, op: 'written' })]);
      const c = makeEvent();
      await bus.publish([c, c]);
      expect(await bus.lastSeq()).toBe(3);
      const got = await take(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 }), 3);
      expect(got.map((d) => [d.event.table, d.event.op])).toEqual([['a', 'appended'], ['b', 'appended'], ['t', 'appended']]);
    });

    it('follows from a bus sequence', async () => {
      const bus = await setup();
      const events = Array.from({ length: 10 }, () => makeEvent());
      await bus.publish(events);
      const got = await take(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 7 }), 3);
      expect(got.map((d) => d.busSeq)).toEqual([8, 9, 10]);
      expect(got[0]!.event.commit).toBe(events[7]!.commit);
    });

    it('a reopened bus keeps its events and its dedup memory', async () => {
      const bus = await setup();
      const events = Array.from({ length: 5 }, () => makeEvent());
      await bus.publish(events);
      await bus.close();
      const again = await fx.reopen();
      extra.push(again);
      expect(await again.lastSeq()).toBe(5);
      await again.publish(events);
      await again.publish([makeEvent()]);
      expect(await again.lastSeq()).toBe(6);
      const got = await take(again.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 }), 6);
      expect(got.slice(0, 5).map((d) => d.event.commit)).toEqual(events.map((e) => e.commit));
    });

    it('a slow follower loses nothing and holds a bounded backlog', async () => {
      const bus = await setup();
      const it = bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 })[Symbol.asyncIterator]();
      await bus.publish([makeEvent()]);
      expect((await it.next()).value.busSeq).toBe(1);
      const total = 2_000;
      for (let i = 0; i < total; i += 200) await bus.publish(Array.from({ length: 200 }, () => makeEvent()));
      // Let the transport deliver whatever it would deliver to a reader that is not reading.
      await new Promise((r) => setTimeout(r, 500));
      if (fx.bufferedByFollower) expect(await fx.bufferedByFollower()).toBeLessThanOrEqual(600);
      let last = 1;
      for (let i = 0; i < total; i++) {
        const r = await it.next();
        expect(r.done).toBe(false);
        expect(r.value.busSeq).toBe(last + 1);
        last = r.value.busSeq;
      }
      await it.return?.();
    });

    it('ends iterators on abort, on return() and on close()', async () => {
      const bus = await setup();
      const ac = new AbortController();
      const aborted = bus.follow({ repo: 'r', branch: 'main' }, { signal: ac.signal })[Symbol.asyncIterator]();
      const pending = aborted.next();
      await new Promise((r) => setTimeout(r, 100));
      ac.abort();
      expect((await pending).done).toBe(true);

      const pre = new AbortController();
      pre.abort();
      expect((await bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0, signal: pre.signal })[Symbol.asyncIterator]().next()).done).toBe(true);

      await bus.publish([makeEvent()]);
      const returned = bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 })[Symbol.asyncIterator]();
      expect((await returned.next()).done).toBe(false);
      await returned.return?.();
      expect((await returned.next()).done).toBe(true);

      const closing = bus.follow({ repo: 'r', branch: 'main' })[Symbol.asyncIterator]();
      const waiting = closing.next();
      await new Promise((r) => setTimeout(r, 100));
      await bus.close();
      expect((await waiting).done).toBe(true);
      await expectCode(bus.publish([makeEvent()]), ErrorCode.BackendUnavailable);
    });

    it('rejects malformed events and filters with INVALID_ARGUMENT', async () => {
      const bus = await setup();
      await expectCode(bus.publish([{ ...makeEvent(), commit: 'nothex' }]), ErrorCode.InvalidArgument);
      await expectCode(bus.publish([{ ...makeEvent(), table: '' }]), ErrorCode.InvalidArgument);
      await expectCode(bus.publish([{ ...makeEvent(), seq: -1 }]), ErrorCode.InvalidArgument);
      await expectCode(bus.publish('x' as never), ErrorCode.InvalidArgument);
      await expectCode(() => bus.follow({ repo: '', branch: 'main' })[Symbol.asyncIterator]().next(), ErrorCode.InvalidArgument);
      await expectCode(() => bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: -2 })[Symbol.asyncIterator]().next(), ErrorCode.InvalidArgument);
      expect(await bus.lastSeq()).toBe(0);
      await bus.ping();
    });
  });
}
