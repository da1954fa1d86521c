import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmillariaError } from '@armillaria/core';
import { RedisRefStore } from '../src/index.js';
import { hashOf, refStoreContract } from './ref-store.contract.js';

const url = process.env.ARMILLARIA_REDIS_URL;
const runId = `armillaria-test:refs:${randomUUID()}:`;

describe.skipIf(!url)('RedisRefStore', () => {
  let admin: Redis;
  beforeAll(async () => {
    // Set but unreachable must fail the run, not skip it.
    admin = new Redis(url as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    expect(await admin.ping()).toBe('PONG');
  });
  afterAll(async () => {
    if (!admin) return;
    const keys = await admin.keys(`${runId}*`); // test cleanup only; the store itself never scans
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  refStoreContract('redis', async () => new RedisRefStore({ url: url as string, keyPrefix: `${runId}${randomUUID()}:` }), {
    // Port 1 on loopback: nothing listens there.
    unreachable: { factory: async () => new RedisRefStore({ url: 'redis://127.0.0.1:1' }), code: 'BACKEND_UNAVAILABLE' },
  });

  it('works on a connection the caller owns and leaves it open', async () => {
    const store = new RedisRefStore({ redis: admin, keyPrefix: `${runId}owned:` });
    await store.compareAndSwap('r', null, hashOf(1));
    await store.close();
    expect(await admin.get(`${runId}owned:ref:r`)).toBe(hashOf(1));
    expect(await admin.zrange(`${runId}owned:names`, 0, -1)).toEqual(['r']);
  });

  it('keeps stores with different key prefixes apart', async () => {
    const a = new RedisRefStore({ url: url as string, keyPrefix: `${runId}a:` });
    const b = new RedisRefStore({ url: url as string, keyPrefix: `${runId}b:` });
    await a.compareAndSwap('x', null, hashOf(1));
    expect(await b.get('x')).toBeUndefined();
    expect(await b.list('')).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('expires reflogs of its own key prefix only, even when the prefix holds glob characters', async () => {
    // Unescaped, `g?[x]*:log:*` would also match the other store's keys (`gz[x]-:log:...` fits `g?` and `*`).
    const mine = new RedisRefStore({ url: url as string, keyPrefix: `${runId}g?[x]*:` });
    const other = new RedisRefStore({ url: url as string, keyPrefix: `${runId}gz[x]-:` });
    for (const store of [mine, other]) {
      await store.compareAndSwap('r', null, hashOf(1), { time: 1000 });
      await store.compareAndSwap('r', hashOf(1), hashOf(2), { time: 2000 });
      await store.compareAndSwap('r', hashOf(2), hashOf(3), { time: 3000 });
    }
    expect(await mine.expireReflog(5000)).toEqual({ entriesRemoved: 2, refsForgotten: 0 });
    expect((await mine.reflog('r')).map((e) => e.time)).toEqual([3000]);
    expect((await other.reflog('r')).map((e) => e.time)).toEqual([3000, 2000, 1000]);
    await Promise.all([mine.close(), other.close()]);
  });

  it('fails with BACKEND_UNAVAILABLE after close', async () => {
    const store = new RedisRefStore({ url: url as string, keyPrefix: `${runId}closed:` });
    await store.get('r');
    await store.close();
    const err = await store.get('r').catch((e: unknown) => e);
    expect((err as ArmillariaError).code).toBe('BACKEND_UNAVAILABLE');
  });
});
