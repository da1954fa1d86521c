import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendUnavailableError, parseJsonBytes } from '@armillaria/core';
import { FsObjectStore, MemoryObjectStore, S3ObjectStore, type ObjectStore } from '@armillaria/chunk-store';
import { createTestBucket, deleteTestBucket, s3TestConfig, tempDir, uniqueName, type TempDir } from '@armillaria/testkit';
import { ObjectStoreRefStore } from '../src/index.js';
import { hashOf, refStoreContract } from './ref-store.contract.js';

/** An ObjectStore whose every call fails as an unreachable S3 endpoint would. */
function unreachableObjects(): ObjectStore {
  const fail = (): never => {
    throw new BackendUnavailableError('test backend is unreachable');
  };
  return new Proxy({} as ObjectStore, {
    get: (_target, prop) => {
      if (prop === 'description') return 'unreachable:';
      if (prop === 'list') return async function* () { fail(); }; // eslint-disable-line require-yield
      return async () => fail();
    },
  });
}

refStoreContract('object-store (memory)', async () => new ObjectStoreRefStore({ objects: new MemoryObjectStore(), prefix: 'meta/' }), {
  unreachable: { factory: async () => new ObjectStoreRefStore({ objects: unreachableObjects() }), code: 'BACKEND_UNAVAILABLE' },
});

describe('ObjectStoreRefStore on FsObjectStore', () => {
  const dirs: TempDir[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => d.cleanup()));
  });
  refStoreContract('object-store (fs)', async () => {
    const dir = tempDir('refs-fs-objects');
    dirs.push(dir);
    return new ObjectStoreRefStore({ objects: new FsObjectStore({ root: dir.path }) });
  });
});

describe.skipIf(!process.env.ARMILLARIA_S3_ENDPOINT)('ObjectStoreRefStore on S3 (MinIO)', () => {
  let bucket: string;
  const stores: S3ObjectStore[] = [];
  beforeAll(async () => {
    // Set but unreachable fails here, loudly.
    bucket = await createTestBucket('refs');
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    if (bucket) await deleteTestBucket(bucket);
  });
  const s3 = (): S3ObjectStore => {
    const c = s3TestConfig();
    const store = new S3ObjectStore({
      endpoint: c.endpoint, region: c.region, bucket, accessKeyId: c.credentials.accessKeyId, secretAccessKey: c.credentials.secretAccessKey,
    });
    stores.push(store);
    return store;
  };
  refStoreContract('object-store (s3)', async () => new ObjectStoreRefStore({ objects: s3(), prefix: `${uniqueName('run')}/` }), {
    unreachable: {
      // Port 1 on loopback: nothing listens there.
      factory: async () => new ObjectStoreRefStore({ objects: new S3ObjectStore({ endpoint: 'http://127.0.0.1:1', bucket: 'none', accessKeyId: 'x', secretAccessKey: 'y', maxAttempts: 1 }) }),
      code: 'BACKEND_UNAVAILABLE',
    },
  });
});

describe('ObjectStoreRefStore layout', () => {
  it('deletes by writing a tombstone that a later create replaces', async () => {
    const objects = new MemoryObjectStore();
    const refs = new ObjectStoreRefStore({ objects, prefix: 'p/' });
    await refs.compareAndSwap('repos/r/branches/main', null, hashOf(1));
    await refs.compareAndSwap('repos/r/branches/main', hashOf(1), null);
    const key = 'p/refs/repos/r/branches/main/~ref';
    expect(parseJsonBytes(await objects.get(key))).toMatchObject({ value: null, version: 2 });
    expect(await refs.list('')).toEqual([]);
    await refs.compareAndSwap('repos/r/branches/main', null, hashOf(3));
    expect(parseJsonBytes(await objects.get(key))).toMatchObject({ value: hashOf(3), version: 3 });
  });

  it('stores one immutable object per reflog entry, newest first in key order', async () => {
    const objects = new MemoryObjectStore();
    const refs = new ObjectStoreRefStore({ objects });
    await refs.compareAndSwap('r', null, hashOf(1), { time: 100 });
    await refs.compareAndSwap('r', hashOf(1), hashOf(2), { time: 200 });
    await refs.compareAndSwap('r', hashOf(2), hashOf(3), { time: 200 });
    const keys: string[] = [];
    for await (const info of objects.list('reflog/r/~log/')) keys.push(info.key);
    const entries = await Promise.all(keys.map(async (k) => parseJsonBytes<{ new: string; time: number }>(await objects.get(k))));
    expect(entries.map((e) => [e.time, e.new])).toEqual([[200, hashOf(3)], [200, hashOf(2)], [100, hashOf(1)]]);
  });

  it('keeps stores with different prefixes on one ObjectStore apart', async () => {
    const objects = new MemoryObjectStore();
    const a = new ObjectStoreRefStore({ objects, prefix: 'a/' });
    const b = new ObjectStoreRefStore({ objects, prefix: 'b/' });
    await a.compareAndSwap('x', null, hashOf(1));
    expect(await b.get('x')).toBeUndefined();
    expect(await b.list('')).toEqual([]);
    expect(await b.reflog('x')).toEqual([]);
  });

  it('lets one of many writers on separate store instances win', async () => {
    const objects = new MemoryObjectStore();
    const stores = Array.from({ length: 4 }, () => new ObjectStoreRefStore({ objects }));
    await stores[0]?.compareAndSwap('r', null, hashOf(0));
    const results = await Promise.allSettled(stores.flatMap((s, i) => [1, 2].map((j) => s.compareAndSwap('r', hashOf(0), hashOf(10 * i + j)))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('keeps a move whose reflog entry cannot be written, and reports the lost entry', async () => {
    const objects = new MemoryObjectStore();
    // Puts of reflog entries fail as a flaky backend would; everything else passes through.
    const flaky = new Proxy(objects, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'put') return typeof value === 'function' ? value.bind(target) : value;
        return async (key: string, ...rest: unknown[]) => {
          if (key.startsWith('reflog/')) throw new BackendUnavailableError('flaky backend');
          return (target.put as (...a: unknown[]) => Promise<unknown>)(key, ...rest);
        };
      },
    });
    const lost: unknown[] = [];
    const refs = new ObjectStoreRefStore({ objects: flaky, onReflogError: (err, entry) => lost.push([(err as Error).message, entry]) });
    await refs.compareAndSwap('r', null, hashOf(1), { time: 5, message: 'm' });
    expect(await refs.get('r')).toBe(hashOf(1));
    expect(await refs.reflog('r')).toEqual([]);
    expect(lost).toEqual([['flaky backend', { name: 'r', old: null, new: hashOf(1), time: 5, message: 'm' }]]);
  });

  it('rejects a prefix that does not end with a slash', () => {
    expect(() => new ObjectStoreRefStore({ objects: new MemoryObjectStore(), prefix: 'refs' })).toThrow(/prefix/);
  });
});
