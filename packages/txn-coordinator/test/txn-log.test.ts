import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@armillaria/core';
import { FsTxnLog, RedisTxnLog } from '../src/index.js';
import { record, txnLogContract } from './txn-log.contract.js';

txnLogContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-txnlog-'));
  return { log: new FsTxnLog({ dir }), reopen: async () => new FsTxnLog({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

const redisUrl = process.env.ARMILLARIA_REDIS_URL;
describe.skipIf(!redisUrl)('redis', () => {
  txnLogContract('redis', async () => {
    const prefix = `test-${randomUUID()}:`;
    return { log: new RedisTxnLog({ url: redisUrl as string, prefix }), reopen: async () => new RedisTxnLog({ url: redisUrl as string, prefix }), cleanup: async () => {} };
  });
});

describe('TxnLog backends', () => {
  it('fs: leaves no temp files and no pending markers once records are final', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-txnlog-'));
    try {
      const log = new FsTxnLog({ dir });
      await log.put(record('t1', 'PREPARED'));
      expect(await readdir(join(dir, 'pending'))).toEqual(['t1.PREPARED']);
      await log.put(record('t1', 'COMMITTED'), { durable: false });
      expect((await readdir(join(dir, 'pending'))).sort()).toEqual(['t1.COMMITTED', 't1.PREPARED']);
      expect((await log.get('t1'))?.state).toBe('COMMITTED');
      await log.put(record('t1', 'DONE'));
      expect(await readdir(join(dir, 'pending'))).toEqual([]);
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fs: a torn non-durable record is skipped and the durable state before it stands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-txnlog-'));
    try {
      const log = new FsTxnLog({ dir });
      await log.put(record('t2', 'PREPARED'));
      await log.put(record('t2', 'COMMITTED'), { durable: false });
      // What a crash can leave of a write that was never fsync'd: an empty file under the name.
      await writeFile(join(dir, 'pending', 't2.COMMITTED'), '');
      expect((await log.get('t2'))?.state).toBe('PREPARED');
      expect((await log.pending()).map((r) => r.state)).toEqual(['PREPARED']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('redis: an unreachable server is BACKEND_UNAVAILABLE', async () => {
    const log = new RedisTxnLog({ url: 'redis://127.0.0.1:1' });
    try {
      await expect(log.get('t1')).rejects.toMatchObject({ code: ErrorCode.BackendUnavailable });
    } finally {
      await log.close();
    }
  });
});
