import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, isArmillariaError, sleep } from '@armillaria/core';
import type { ObjectStore } from '../src/index.js';

/** What a contract factory hands over: a fresh, empty store and how to dispose of it. */
export interface ContractStore {
  store: ObjectStore;
  cleanup: () => Promise<void>;
}

const MiB = 1 << 20;

/** Deterministic bytes (fast, unlike crypto for 20 MiB): a xorshift stream seeded per call. */
export function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
    if (i + 1 < size) out[i + 1] = (x >>> 8) & 0xff;
    if (i + 2 < size) out[i + 2] = (x >>> 16) & 0xff;
    if (i + 3 < size) out[i + 3] = (x >>> 24) & 0xff;
  }
  return out;
}

/** `total` bytes in `piece`-sized pieces, the same bytes as pseudoRandomBytes(total, seed), without holding them all. */
export async function* pseudoRandomStream(total: number, seed: number, piece = MiB, failAfter?: number): AsyncGenerator<Uint8Array> {
  const all = pseudoRandomBytes(total, seed);
  for (let at = 0; at < total; at += piece) {
    if (failAfter !== undefined && at >= failAfter) throw new Error('source failed mid-stream');
    yield all.slice(at, at + piece);
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isArmillariaError(err)) return err.code;
    throw err;
  }
  return 'RESOLVED';
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function streamDigest(it: AsyncIterable<Uint8Array>): Promise<{ size: number; sha: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const piece of it) {
    h.update(piece);
    size += piece.byteLength;
  }
  return { size, sha: h.digest('hex') };
}

const utf8Order = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Keys every backend must reject with INVALID_ARGUMENT, before touching a path or a request. */
export const INVALID_KEYS: readonly string[] = [
  '',
  '/abs',
  'a/../b',
  '..',
  './a',
  'a/.',
  'a\\b',
  'a\0b',
  'a//b',
  'trailing/',
  'x'.repeat(1025),
  `${'é'.repeat(512)}x`, // 1025 UTF-8 bytes in 513 characters
];

/**
 * The ObjectStore contract: every implementation runs this suite. `factory` returns a fresh empty store
 * for each test (a temp dir, a new key prefix, …) and a cleanup that removes it.
 * Stream tests use a 20 MiB body, so S3 stores should be built with a multipart threshold below that.
 */
export function objectStoreContract(name: string, factory: () => Promise<ContractStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    let cleanup: (() => Promise<void>) | undefined;
    beforeEach(async () => {
      const made = await factory();
      store = made.store;
      cleanup = made.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    it('has a description and answers ping', async () => {
      expect(store.description.length).toBeGreaterThan(0);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it.each([
      ['empty', 0],
      ['1-byte', 1],
      ['every byte value', 256],
      ['3 MiB', 3 * MiB],
    ])('round-trips a %s body through put/get/head/delete', async (_label, size) => {
      const body = size === 256 ? Uint8Array.from({ length: 256 }, (_, i) => i) : pseudoRandomBytes(size, 7 + size);
      const key = `round/trip-${size}`;
      const put = await store.put(key, body);
      expect(typeof put.etag).toBe('string');
      expect(put.etag.length).toBeGreaterThan(0);
      const got = await store.get(key);
      expect(got).toBeInstanceOf(Uint8Array);
      expect(got.byteLength).toBe(size);
      expect(sha256(got)).toBe(sha256(body));
      const info = await store.head(key);
      expect(info).toMatchObject({ key, size, etag: put.etag });
      expect(info?.modifiedAt).toBeGreaterThan(Date.now() - 3_600_000);
      expect(info?.modifiedAt).toBeLessThan(Date.now() + 3_600_000);
      expect(await streamDigest(await store.getStream(key))).toEqual({ size, sha: sha256(body) });
      await store.delete(key);
      expect(await store.head(key)).toBeUndefined();
      expect(await codeOf(store.get(key))).toBe(ErrorCode.ObjectNotFound);
    });

    it('keeps stored bytes apart from the caller’s buffers', async () => {
      const body = Buffer.from('original');
      await store.put('copy/a', body);
      body.fill(0);
      const got = await store.get('copy/a');
      got.fill(1);
      expect(Buffer.from(await store.get('copy/a')).toString()).toBe('original');
    });

    it('stores keys with unicode, spaces and dots in segment names', async () => {
      const keys = ['refs/heads/main', 'a b/c d', 'ünï/😀', '.hidden/x', 'a/.b/..c', 'refs/x.lock'];
      for (const k of keys) await store.put(k, Buffer.from(k));
      for (const k of keys) expect(Buffer.from(await store.get(k)).toString()).toBe(k);
      expect((await collect(store.list(''))).map((i) => i.key)).toEqual([...keys].sort(utf8Order));
    });

    it('accepts a key of exactly 1024 UTF-8 bytes', async () => {
      const key = Array.from({ length: 5 }, (_, i) => String(i).repeat(204)).join('/');
      expect(Buffer.byteLength(key)).toBe(1024);
      await store.put(key, Buffer.from('long'));
      expect(Buffer.from(await store.get(key)).toString()).toBe('long');
    });

    it('overwrites: the last put wins and the etag changes', async () => {
      const first = await store.put('over/k', Buffer.from('one'));
      const second = await store.put('over/k', Buffer.from('two!'));
      expect(second.etag).not.toBe(first.etag);
      expect(Buffer.from(await store.get('over/k')).toString()).toBe('two!');
      expect(await store.head('over/k')).toMatchObject({ size: 4, etag: second.etag });
    });

    it('ifNoneMatch "*" creates once; a second create fails and keeps the first content', async () => {
      const first = await store.put('cond/create', Buffer.from('first'), { ifNoneMatch: '*' });
      expect(await codeOf(store.put('cond/create', Buffer.from('second'), { ifNoneMatch: '*' }))).toBe(ErrorCode.PreconditionFailed);
      expect(await codeOf(store.putStream('cond/create', pseudoRandomStream(10, 1), { ifNoneMatch: '*' }))).toBe(ErrorCode.PreconditionFailed);
      expect(Buffer.from(await store.get('cond/create')).toString()).toBe('first');
      expect((await store.head('cond/create'))?.etag).toBe(first.etag);
    });

    it('ifMatch replaces only with the current etag', async () => {
      const v1 = await store.put('cond/match', Buffer.from('v1'));
      const v2 = await store.put('cond/match', Buffer.from('v2'), { ifMatch: v1.etag });
      expect(Buffer.from(await store.get('cond/match')).toString()).toBe('v2');
      expect(await codeOf(store.put('cond/match', Buffer.from('stale'), { ifMatch: v1.etag }))).toBe(ErrorCode.PreconditionFailed);
      expect(await codeOf(store.putStream('cond/match', pseudoRandomStream(10, 2), { ifMatch: v1.etag }))).toBe(ErrorCode.PreconditionFailed);
      expect(Buffer.from(await store.get('cond/match')).toString()).toBe('v2');
      const v3 = await store.putStream('cond/match', pseudoRandomStream(10, 3), { ifMatch: v2.etag });
      expect((await store.head('cond/match'))?.etag).toBe(v3.etag);
      expect(await codeOf(store.put('cond/absent', Buffer.from('x'), { ifMatch: v3.etag }))).toBe(ErrorCode.PreconditionFailed);
      expect(await store.head('cond/absent')).toBeUndefined();
    });

    it('rejects contradictory or malformed conditions with INVALID_ARGUMENT', async () => {
      expect(await codeOf(store.put('cond/bad', Buffer.from('x'), { ifNoneMatch: '*', ifMatch: 'e' }))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(store.put('cond/bad', Buffer.from('x'), { ifNoneMatch: 'etag' as '*' }))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(store.put('cond/bad', Buffer.from('x'), { ifMatch: '' }))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(store.put('cond/bad', 'text' as unknown as Uint8Array))).toBe(ErrorCode.InvalidArgument);
      expect(await store.head('cond/bad')).toBeUndefined();
    });

    it('lets exactly one of many concurrent ifNoneMatch creates win', async () => {
      const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`writer ${i}`));
      const results = await Promise.allSettled(bodies.map((b) => store.put('race/create', b, { ifNoneMatch: '*' })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isArmillariaError(r.reason, ErrorCode.PreconditionFailed)).toBe(true);
      expect(Buffer.from(await store.get('race/create')).toString()).toBe(`writer ${winners[0]}`);
    });

    it('lets exactly one of many concurrent ifMatch replaces of one etag win', async () => {
      const base = await store.put('race/match', Buffer.from('base'));
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.put('race/match', Buffer.from(`writer ${i}`), { ifMatch: base.etag })),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isArmillariaError(r.reason, ErrorCode.PreconditionFailed)).toBe(true);
      expect(Buffer.from(await store.get('race/match')).toString()).toBe(`writer ${winners[0]}`);
    });

    it('touch renews modifiedAt and keeps the bytes; an absent key is false and stays absent', async () => {
      const bytes = pseudoRandomBytes(4096, 7);
      await store.put('t/one', bytes, { ifNoneMatch: '*' });
      const before = (await store.head('t/one'))!;
      // S3's LastModified has one-second resolution: wait past it so a renewal is visible.
      await sleep(1100);
      expect(await store.touch('t/one')).toBe(true);
      const after = (await store.head('t/one'))!;
      expect(after.modifiedAt).toBeGreaterThan(before.modifiedAt);
      expect(after.size).toBe(bytes.byteLength);
      expect(sha256(await store.get('t/one'))).toBe(sha256(bytes));
      const listed = (await collect(store.list('t/'))).find((o) => o.key === 't/one');
      expect(listed?.modifiedAt).toBeGreaterThan(before.modifiedAt); // S3 lists in ms, HEADs in seconds
      // Still create-only: touching does not make the key writable again.
      expect(await codeOf(store.put('t/one', bytes, { ifNoneMatch: '*' }))).toBe(ErrorCode.PreconditionFailed);
      expect(await store.touch('t/absent')).toBe(false);
      expect(await store.head('t/absent')).toBeUndefined();
      expect(await codeOf(store.touch('../x'))).toBe(ErrorCode.InvalidArgument);
    });

    it('reports missing keys as OBJECT_NOT_FOUND and head as undefined; deleting them is not an error', async () => {
      expect(await codeOf(store.get('missing/k'))).toBe(ErrorCode.ObjectNotFound);
      expect(await codeOf(store.getStream('missing/k'))).toBe(ErrorCode.ObjectNotFound);
      expect(await store.head('missing/k')).toBeUndefined();
      await store.put('missing/k/child', Buffer.from('x'));
      // A key that is only a "directory" of other keys is not an object either.
      expect(await codeOf(store.get('missing/k'))).toBe(ErrorCode.ObjectNotFound);
      expect(await store.head('missing/k')).toBeUndefined();
      await expect(store.delete('missing/nothing')).resolves.toBeUndefined();
      await expect(store.deleteMany(['missing/a', 'missing/b'])).resolves.toBeUndefined();
    });

    it('rejects invalid keys with INVALID_ARGUMENT on every method', async () => {
      for (const key of INVALID_KEYS) {
        const shown = JSON.stringify(key.slice(0, 20));
        expect(await codeOf(store.get(key)), `get ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.getStream(key)), `getStream ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.put(key, Buffer.from('x'))), `put ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.putStream(key, pseudoRandomStream(1, 1))), `putStream ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.head(key)), `head ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.delete(key)), `delete ${shown}`).toBe(ErrorCode.InvalidArgument);
        expect(await codeOf(store.deleteMany(['ok/key', key])), `deleteMany ${shown}`).toBe(ErrorCode.InvalidArgument);
      }
      for (const prefix of ['/abs', 'a/../', 'a\\', 'a\0', 'x'.repeat(1025), 'a//']) {
        expect(await codeOf(collect(store.list(prefix))), `list ${JSON.stringify(prefix.slice(0, 20))}`).toBe(ErrorCode.InvalidArgument);
      }
      expect(await codeOf(collect(store.list('', { startAfter: 5 as unknown as string })))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(store.deleteMany('a/b' as unknown as string[]))).toBe(ErrorCode.InvalidArgument);
      expect(await collect(store.list(''))).toEqual([]);
    });

    it('lists in UTF-8 byte order with prefix filtering and startAfter', async () => {
      // Tricky neighbours: '/' sorts after '-' and '.', before '0'; emoji sort after U+FFFD in UTF-8.
      const keys = ['p/a-b', 'p/a.x', 'p/a/b', 'p/a/c/d', 'p/a0', 'p/ab', 'p/\uFFFD', 'p/😀', 'p/é', 'pq', 'o/x', 'q'];
      for (const k of keys) await store.put(k, Buffer.from(k));
      const all = await collect(store.list(''));
      expect(all.map((i) => i.key)).toEqual([...keys].sort(utf8Order));
      for (const info of all) expect(info).toMatchObject({ size: Buffer.byteLength(info.key) });
      expect((await collect(store.list('p/'))).map((i) => i.key)).toEqual(keys.filter((k) => k.startsWith('p/')).sort(utf8Order));
      expect((await collect(store.list('p/a'))).map((i) => i.key)).toEqual(['p/a-b', 'p/a.x', 'p/a/b', 'p/a/c/d', 'p/a0', 'p/ab']);
      expect((await collect(store.list('p/a/'))).map((i) => i.key)).toEqual(['p/a/b', 'p/a/c/d']);
      expect((await collect(store.list('p/a', { startAfter: 'p/a/b' }))).map((i) => i.key)).toEqual(['p/a/c/d', 'p/a0', 'p/ab']);
      expect((await collect(store.list('', { startAfter: 'p/a/' }))).map((i) => i.key)).toEqual(
        [...keys].sort(utf8Order).filter((k) => utf8Order(k, 'p/a/') > 0),
      );
      expect((await collect(store.list('', { startAfter: 'zzz' })))).toEqual([]);
      expect((await collect(store.list('nothing/')))).toEqual([]);
    });

    it('paginates: lists, pages with startAfter and deletes more than 1000 keys', async () => {
      const n = 1500;
      const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      const pending = [...keys];
      // A few writers at a time: enough to be quick, few enough for a shared 2-core machine.
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let k = pending.pop(); k !== undefined; k = pending.pop()) await store.put(k, Buffer.from('x'));
        }),
      );
      await store.put('other/a', Buffer.from('x'));
      expect((await collect(store.list('many/'))).map((i) => i.key)).toEqual(keys);
      expect((await collect(store.list('many/', { startAfter: keys[1199] }))).map((i) => i.key)).toEqual(keys.slice(1200));
      // Resuming a listing from where a previous one stopped sees every key exactly once.
      const firstPage: string[] = [];
      for await (const info of store.list('many/')) {
        firstPage.push(info.key);
        if (firstPage.length === 1001) break;
      }
      const rest = await collect(store.list('many/', { startAfter: firstPage.at(-1) as string }));
      expect([...firstPage, ...rest.map((i) => i.key)]).toEqual(keys);
      await store.deleteMany([...keys, 'many/absent']);
      expect(await collect(store.list('many/'))).toEqual([]);
      expect((await collect(store.list(''))).map((i) => i.key)).toEqual(['other/a']);
      await store.deleteMany([]);
    });

    it('deleteMany removes exactly the named keys', async () => {
      for (const k of ['d/a', 'd/b', 'd/c', 'd/e/x', 'd/e/y']) await store.put(k, Buffer.from(k));
      await store.deleteMany(['d/a', 'd/c', 'd/e/x', 'd/zzz', 'd/a']);
      expect((await collect(store.list('d/'))).map((i) => i.key)).toEqual(['d/b', 'd/e/y']);
    });

    it('streams a 20 MiB body in and out (multipart on S3)', async () => {
      const size = 20 * MiB;
      const expected = sha256(pseudoRandomBytes(size, 42));
      const put = await store.putStream('big/one', pseudoRandomStream(size, 42, 3 * MiB + 17));
      const info = await store.head('big/one');
      expect(info).toMatchObject({ size, etag: put.etag });
      expect(await streamDigest(await store.getStream('big/one'))).toEqual({ size, sha: expected });
      expect(sha256(await store.get('big/one'))).toBe(expected);
      // A large plain put goes the same way (S3 switches to multipart above its threshold).
      const body = pseudoRandomBytes(size, 43);
      const again = await store.put('big/one', body, { ifMatch: put.etag });
      expect(again.etag).not.toBe(put.etag);
      expect(sha256(await store.get('big/one'))).toBe(sha256(body));
      expect(await codeOf(store.putStream('big/one', pseudoRandomStream(size, 44), { ifNoneMatch: '*' }))).toBe(ErrorCode.PreconditionFailed);
      expect(sha256(await store.get('big/one'))).toBe(sha256(body));
    });

    it('creates a large object with putStream ifNoneMatch, once', async () => {
      const size = 12 * MiB;
      await store.putStream('big/create', pseudoRandomStream(size, 5), { ifNoneMatch: '*' });
      expect(await codeOf(store.putStream('big/create', pseudoRandomStream(size, 6), { ifNoneMatch: '*' }))).toBe(ErrorCode.PreconditionFailed);
      expect(sha256(await store.get('big/create'))).toBe(sha256(pseudoRandomBytes(size, 5)));
    });

    it.each([['ifNoneMatch'], ['ifMatch']])('checks %s when a streamed put publishes, not only when it starts', async (mode) => {
      const key = `late/${mode}`;
      const base = mode === 'ifMatch' ? await store.put(key, Buffer.from('base')) : undefined;
      let reached!: () => void;
      const atPause = new Promise<void>((r) => (reached = r));
      let go!: () => void;
      const resume = new Promise<void>((r) => (go = r));
      const all = pseudoRandomBytes(12 * MiB, 11);
      async function* body(): AsyncGenerator<Uint8Array> {
        // 8 MiB in (past an S3 multipart threshold, so parts are uploading), then wait for a rival put.
        yield all.subarray(0, 8 * MiB);
        reached();
        await resume;
        yield all.subarray(8 * MiB);
      }
      const pending = store.putStream(key, body(), base ? { ifMatch: base.etag } : { ifNoneMatch: '*' });
      await atPause;
      const rival = await store.put(key, Buffer.from('landed first'));
      go();
      expect(await codeOf(pending)).toBe(ErrorCode.PreconditionFailed);
      expect(Buffer.from(await store.get(key)).toString()).toBe('landed first');
      expect((await store.head(key))?.etag).toBe(rival.etag);
    });

    it('a putStream whose source fails mid-way leaves the old value and nothing else', async () => {
      const old = await store.put('abort/k', Buffer.from('old value'));
      const size = 20 * MiB;
      await expect(store.putStream('abort/k', pseudoRandomStream(size, 9, MiB, 13 * MiB))).rejects.toThrow('source failed mid-stream');
      await expect(store.putStream('abort/new', pseudoRandomStream(size, 9, MiB, 13 * MiB), { ifNoneMatch: '*' })).rejects.toThrow(
        'source failed mid-stream',
      );
      await expect(store.putStream('abort/tiny', pseudoRandomStream(size, 9, MiB, 0))).rejects.toThrow('source failed mid-stream');
      // The source's own error object reaches the caller, whatever its properties.
      const own = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      const failing = (async function* () {
        yield new Uint8Array(10);
        throw own;
      })();
      await expect(store.putStream('abort/own', failing)).rejects.toBe(own);
      expect(await store.head('abort/own')).toBeUndefined();
      expect(Buffer.from(await store.get('abort/k')).toString()).toBe('old value');
      expect((await store.head('abort/k'))?.etag).toBe(old.etag);
      expect(await store.head('abort/new')).toBeUndefined();
      expect(await store.head('abort/tiny')).toBeUndefined();
      expect((await collect(store.list(''))).map((i) => i.key)).toEqual(['abort/k']);
      // The key is usable afterwards: no lock or upload left behind blocks it.
      await store.putStream('abort/new', pseudoRandomStream(10, 1), { ifNoneMatch: '*' });
      await store.put('abort/k', Buffer.from('new value'), { ifMatch: old.etag });
    });

    it('honours an aborted signal on get', async () => {
      await store.put('sig/k', Buffer.from('x'));
      const ac = new AbortController();
      ac.abort();
      await expect(store.get('sig/k', { signal: ac.signal })).rejects.toThrow();
    });
  });
}
