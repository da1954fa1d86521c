import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { TXN_RECORD_VERSION, type TxnLog, type TxnRecord, type TxnRecordState } from '../src/index.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

export function record(id: string, state: TxnRecordState, extra: Partial<TxnRecord> = {}): TxnRecord {
  return {
    v: TXN_RECORD_VERSION, id, repo: 'r', branch: 'main', state, base: HASH_A, baseGeneration: 3, tree: { tables: { t: { manifest: HASH_B, version: 2 } } },
    message: 'm', author: 'a', events: [], createdAt: 1, updatedAt: 2, ...extra,
  };
}

/** The TxnLog contract: every implementation runs it (fs always, Redis when ARMILLARIA_REDIS_URL is set). */
export function txnLogContract(name: string, open: () => Promise<{ log: TxnLog; reopen?: () => Promise<TxnLog>; cleanup: () => Promise<void> }>): void {
  describe(`TxnLog contract: ${name}`, () => {
    const withLog = (fn: (log: TxnLog, reopen?: () => Promise<TxnLog>) => Promise<void>) => async () => {
      const { log, reopen, cleanup } = await open();
      try {
        await fn(log, reopen);
      } finally {
        await log.close();
        await cleanup();
      }
    };
    const id = () => `txn-${randomUUID()}`;

    it('stores and returns the last record of an id; unknown ids are undefined', withLog(async (log) => {
      const a = id();
      expect(await log.get(a)).toBeUndefined();
      await log.put(record(a, 'PREPARED'));
      await log.put(record(a, 'COMMITTED', { commit: HASH_B, commitTime: 5 }));
      expect(await log.get(a)).toEqual(record(a, 'COMMITTED', { commit: HASH_B, commitTime: 5 }));
    }));

    it('lists PREPARED and COMMITTED records as pending, and drops them once final', withLog(async (log) => {
      const [p, c, d, x] = [id(), id(), id(), id()];
      await log.put(record(p, 'PREPARED'));
      await log.put(record(c, 'PREPARED'));
      await log.put(record(c, 'COMMITTED', { commit: HASH_B }));
      await log.put(record(d, 'PREPARED'));
      await log.put(record(d, 'DONE', { commit: HASH_B }));
      await log.put(record(x, 'PREPARED'));
      await log.put(record(x, 'ABORTED', { reason: 'conflict' }));
      const pending = await log.pending();
      const mine = pending.filter((r) => [p, c, d, x].includes(r.id));
      expect(mine.map((r) => [r.id, r.state]).sort()).toEqual([[c, 'COMMITTED'], [p, 'PREPARED']].sort());
    }));

    it('reads back a non-durable put like a durable one', withLog(async (log) => {
      const a = id();
      await log.put(record(a, 'PREPARED'));
      await log.put(record(a, 'COMMITTED', { commit: HASH_B }), { durable: false });
      expect((await log.get(a))?.state).toBe('COMMITTED');
      expect((await log.pending()).find((r) => r.id === a)?.state).toBe('COMMITTED');
      await log.put(record(a, 'DONE', { commit: HASH_B }), { durable: false });
      expect((await log.get(a))?.state).toBe('DONE');
      expect((await log.pending()).some((r) => r.id === a)).toBe(false);
    }));

    it('keeps records across instances', withLog(async (log, reopen) => {
      const a = id();
      await log.put(record(a, 'PREPARED'));
      const other = reopen ? await reopen() : log;
      expect((await other.get(a))?.state).toBe('PREPARED');
      expect((await other.pending()).some((r) => r.id === a)).toBe(true);
      if (other !== log) await other.close();
    }));

    it('gives an idempotency key to its first claimer only', withLog(async (log) => {
      const key = `key-${randomUUID()}`;
      const [a, b] = [id(), id()];
      expect(await log.keyOwner(key)).toBeUndefined();
      expect(await log.claimKey(key, a)).toBe(a);
      expect(await log.claimKey(key, b)).toBe(a);
      expect(await log.claimKey(key, a)).toBe(a);
      expect(await log.keyOwner(key)).toBe(a);
    }));

    it('lets a claim supersede only the owner it names', withLog(async (log) => {
      const key = `key-${randomUUID()}`;
      const [a, b, c] = [id(), id(), id()];
      await log.claimKey(key, a);
      expect(await log.claimKey(key, b, c)).toBe(a);
      expect(await log.claimKey(key, b, a)).toBe(b);
      expect(await log.claimKey(key, c, a)).toBe(b);
      expect(await log.keyOwner(key)).toBe(b);
    }));

    it('has exactly one winner among concurrent claims', withLog(async (log, reopen) => {
      const key = `key-${randomUUID()}`;
      const ids = Array.from({ length: 12 }, id);
      const logs = [log, ...(reopen ? await Promise.all([reopen(), reopen()]) : [])];
      const owners = await Promise.all(ids.map((t, i) => (logs[i % logs.length] as TxnLog).claimKey(key, t)));
      expect(new Set(owners).size).toBe(1);
      expect(ids).toContain(owners[0]);
      // Concurrent supersedes of that owner: again one winner.
      const next = Array.from({ length: 8 }, id);
      const after = await Promise.all(next.map((t, i) => (logs[i % logs.length] as TxnLog).claimKey(key, t, owners[0])));
      expect(new Set(after).size).toBe(1);
      expect(next).toContain(after[0]);
      for (const l of logs.slice(1)) await l.close();
    }));

    it('rejects bad ids and keys with INVALID_ARGUMENT before touching storage', withLog(async (log) => {
      for (const bad of ['', '../x', 'a/b', 'x'.repeat(200), 'sp ace']) {
        await expect(log.get(bad)).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
        await expect(log.put(record(bad, 'PREPARED'))).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      }
      await expect(log.claimKey('', id())).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(log.claimKey('k'.repeat(513), id())).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
      await expect(log.claimKey('k', '../evil')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }));

    it('answers ping', withLog(async (log) => {
      await expect(log.ping()).resolves.toBeUndefined();
    }));
  });
}
