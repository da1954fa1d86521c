import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import {
  type Hash,
  assertHash,
  chunkKey,
  hashFromChunkKey,
  mapLimit,
  ChunkCorruptError,
  ChunkNotFoundError,
  HashMismatchError,
  InvalidArgumentError,
  isArmillariaError,
  ErrorCode,
  ByteLru,
  serviceMetrics,
} from '@armillaria/core';
import type { ObjectStore } from './object-store.js';
import { PUT_FIRST_BYTES, type ChunkStat, type ChunkStore, type GetOptions, type PutBatchOptions } from './chunk-store.js';
import type { Hasher } from './hasher.js';
import { verifyingStream } from './verifying-stream.js';
import { chunkBytes, chunkStream, storedForm, type ChunkCompression } from './stored-form.js';

export interface ObjectChunkStoreOptions {
  objects: ObjectStore;
  hasher: Hasher;
  /** Key prefix of chunks inside the object store (default `objects`). */
  prefix?: string;
  /** Object-store calls in flight for one batch call (default 32). */
  concurrency?: number;
  /**
   * Buffers at least this large are hashed off the main thread (default 1 MiB), so a big put or a
   * verified get does not stall the event loop.
   */
  offThreadHashBytes?: number;
  /**
   * A chunk found already stored by a put or reported present by `missing` is touched (its `modifiedAt`
   * renewed) when it was written longer ago than this (default 10 minutes; 0 touches on every hit).
   * Why: the caller is about to reference it, and GC deletes unreachable chunks older than its grace
   * period; an old chunk of a dropped table, deduplicated by a new write, would otherwise be swept before
   * the new commit lands. So a writer has `graceMs - refreshAfterMs` to commit. The threshold keeps the
   * common dedup hit (a recently written chunk) at one HEAD.
   */
  refreshAfterMs?: number;
  /**
   * Verified chunk bytes kept in memory for later gets, up to this many bytes (default 0: off). Chunks
   * are immutable and named by their hash, so a cached copy is the chunk's content: the catalog re-reads
   * the same base chunks edit after edit, and on S3 each read is a GET. Bytes written by a put are kept
   * too (the next edit reads the chunk it just wrote). `delete` evicts; `get(h, {skipCache: true})` and
   * unverified gets read the stored object (a verify checks storage, not memory). A get returns a copy.
   * One chunk larger than a quarter of the budget is not kept.
   */
  readCacheBytes?: number;
  /**
   * `json` (default): chunks that look like JSON text (the catalog's commits, trees, manifests) are
   * stored deflated when that saves an eighth or more (see stored-form.ts; a chunk keeps the hash of its
   * own bytes, and every get returns those). `off`: every chunk is stored as its bytes. Either way the
   * store reads both forms.
   */
  compression?: ChunkCompression;
}

export const DEFAULT_REFRESH_AFTER_MS = 10 * 60 * 1000;

/**
 * `ChunkStore` over any `ObjectStore`: chunk `h` lives at `objects/h[0..2]/h[2..4]/h`.
 * Writes are create-only (`ifNoneMatch: '*'`), so bytes that already exist are never rewritten. A chunk
 * over 64 KiB is checked for first (one HEAD, no upload when it exists); a smaller one is put at once
 * and a refused put is the check.
 */
export class ObjectChunkStore implements ChunkStore {
  readonly objects: ObjectStore;
  readonly hasher: Hasher;
  private readonly prefix: string;
  private readonly concurrency: number;
  private readonly offThreadHashBytes: number;
  /** See ObjectChunkStoreOptions.refreshAfterMs (GC warns when its grace period is shorter). */
  readonly refreshAfterMs: number;
  private readonly cache: ByteLru<Hash, Uint8Array> | undefined;
  private readonly compression: ChunkCompression;

  constructor(options: ObjectChunkStoreOptions) {
    this.objects = options.objects;
    this.hasher = options.hasher;
    this.prefix = options.prefix ?? 'objects';
    this.concurrency = options.concurrency ?? 32;
    this.offThreadHashBytes = options.offThreadHashBytes ?? 1 << 20;
    const refresh = options.refreshAfterMs ?? DEFAULT_REFRESH_AFTER_MS;
    if (typeof refresh !== 'number' || !Number.isFinite(refresh) || refresh < 0) {
      throw new InvalidArgumentError(`refreshAfterMs must be a non-negative number of milliseconds, got ${JSON.stringify(refresh)}`);
    }
    this.refreshAfterMs = refresh;
    const cacheBytes = options.readCacheBytes ?? 0;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new InvalidArgumentError(`readCacheBytes must be a byte count >= 0, got ${JSON.stringify(cacheBytes)}`);
    }
    this.cache = cacheBytes > 0 ? new ByteLru(cacheBytes) : undefined;
    const compression = options.compression ?? 'json';
    if (compression !== 'json' && compression !== 'off') {
      throw new InvalidArgumentError(`compression must be "json" or "off", got ${JSON.stringify(compression)}`, { details: { compression: String(compression) } });
    }
    this.compression = compression;
  }

  /**
   * Keeps a copy of verified bytes (the caller may go on to modify its own). `new Uint8Array(x)` copies;
   * a Buffer's `slice()` would not.
   */
  private remember(hash: Hash, bytes: Uint8Array): void {
    if (this.cache && bytes.byteLength <= this.cache.budget / 4) this.cache.set(hash, new Uint8Array(bytes), bytes.byteLength);
  }

  /** A copy of the cached bytes; none for `skipCache` or an unverified read (repair tools want storage's bytes). */
  private cached(hash: Hash, opts?: GetOptions): Uint8Array | undefined {
    if (!this.cache || opts?.skipCache || opts?.verify === false) return undefined;
    const hit = this.cache.get(hash);
    return hit && new Uint8Array(hit);
  }

  private key(hash: Hash): string {
    return chunkKey(hash, this.prefix);
  }

  private async hashOne(bytes: Uint8Array): Promise<Hash> {
    if (bytes.byteLength < this.offThreadHashBytes) return this.hasher.hash(bytes);
    const [h] = await this.hasher.hashMany([bytes]);
    return h as Hash;
  }

  async put(bytes: Uint8Array, opts?: { expectedHash?: Hash }): Promise<Hash> {
    if (opts?.expectedHash !== undefined) assertHash(opts.expectedHash);
    const hash = await this.hashOne(bytes);
    if (opts?.expectedHash !== undefined && opts.expectedHash !== hash) throw new HashMismatchError(opts.expectedHash, hash);
    await this.store(hash, bytes);
    this.remember(hash, bytes);
    return hash;
  }

  async putBatch(chunks: readonly Uint8Array[], opts?: PutBatchOptions): Promise<Hash[]> {
    const hashes = await this.hasher.hashMany(chunks);
    const firstIndex = new Map<Hash, number>();
    hashes.forEach((h, i) => firstIndex.has(h) || firstIndex.set(h, i));
    await mapLimit([...firstIndex], this.concurrency, ([h, i]) => this.store(h, chunks[i] as Uint8Array, opts?.knownMissing !== true));
    for (const [h, i] of firstIndex) this.remember(h, chunks[i] as Uint8Array);
    return hashes;
  }

  /**
   * Create-only write of verified bytes. An existing chunk (same hash, so same bytes) is not rewritten,
   * only kept fresh for GC (see `present`), unless the caller has just checked it is absent (`check`
   * false: `missing` touched the present ones already). A chunk up to PUT_FIRST_BYTES is put without
   * asking first: such chunks are mostly new (commits, trees), and the create-only put's refusal says
   * "already stored" as well as a HEAD would, so a new one costs one round trip, not two. A larger one
   * is asked about first, so that a dedup hit uploads nothing.
   */
  private async store(hash: Hash, bytes: Uint8Array, check = true): Promise<void> {
    const key = this.key(hash);
    const putFirst = check && bytes.byteLength <= PUT_FIRST_BYTES;
    if (check && !putFirst && (await this.present(hash))) return;
    const stored = await storedForm(bytes, this.compression);
    for (;;) {
      try {
        await this.objects.put(key, stored, { ifNoneMatch: '*' });
        serviceMetrics.chunkBytesIn.inc(stored.byteLength);
        return;
      } catch (err) {
        if (!isArmillariaError(err, ErrorCode.PreconditionFailed)) throw err;
      }
      // Stored already. Asked first (or told absent) it was written meanwhile by someone else, just now;
      // put first, it may be old: touched like any dedup hit, and written again if GC took it meanwhile.
      if (!putFirst || (await this.present(hash))) return;
    }
  }

  async get(hash: Hash, opts?: GetOptions): Promise<Uint8Array> {
    // A malformed hash misses the cache; `fetch` refuses it (chunkKey) before any I/O.
    const hit = this.cached(hash, opts);
    if (hit) return hit;
    const stored = await this.fetch(hash, opts);
    const bytes = await chunkBytes(stored);
    // Unverified (repair tools): what inflates, else the stored bytes as they are.
    if (opts?.verify === false) return bytes ?? stored;
    if (!bytes) throw await this.undecodable(hash, stored);
    const actual = await this.hashOne(bytes);
    if (actual !== hash) throw new ChunkCorruptError(hash, actual);
    this.remember(hash, bytes);
    return bytes;
  }

  /** The error for stored bytes with the deflated header that do not inflate. */
  private async undecodable(hash: Hash, stored: Uint8Array): Promise<ChunkCorruptError> {
    return new ChunkCorruptError(hash, await this.hashOne(stored), 'its stored form does not inflate');
  }

  async getBatch(hashes: readonly Hash[], opts?: GetOptions): Promise<Uint8Array[]> {
    hashes.forEach((h) => assertHash(h));
    const fetchOpts = opts?.signal ? { signal: opts.signal } : undefined;
    const out = hashes.map((h) => this.cached(h, opts));
    const todo = out.flatMap((b, i) => (b ? [] : [i]));
    const stored = await mapLimit(todo, this.concurrency, (i) => this.fetch(hashes[i] as Hash, fetchOpts));
    const decoded = await Promise.all(stored.map(chunkBytes));
    // Unverified: what does not inflate is returned as stored (as `get` does).
    const fetched = decoded.map((b, k) => b ?? (stored[k] as Uint8Array));
    if (opts?.verify !== false) {
      const bad = decoded.findIndex((b) => b === undefined);
      if (bad >= 0) throw await this.undecodable(hashes[todo[bad] as number] as Hash, stored[bad] as Uint8Array);
      // One native call hashes the whole batch in parallel.
      const actual = await this.hasher.hashMany(fetched);
      actual.forEach((a, k) => {
        const h = hashes[todo[k] as number] as Hash;
        if (a !== h) throw new ChunkCorruptError(h, a);
      });
      todo.forEach((i, k) => this.remember(hashes[i] as Hash, fetched[k] as Uint8Array));
    }
    todo.forEach((i, k) => (out[i] = fetched[k]));
    return out as Uint8Array[];
  }

  private async fetch(hash: Hash, opts?: { signal?: AbortSignal }): Promise<Uint8Array> {
    const key = this.key(hash);
    try {
      const bytes = await this.objects.get(key, opts);
      serviceMetrics.chunkBytesOut.inc(bytes.byteLength);
      return bytes;
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.ObjectNotFound)) throw new ChunkNotFoundError(hash);
      throw err;
    }
  }

  async has(hash: Hash): Promise<boolean> {
    return (await this.objects.head(this.key(hash))) !== undefined;
  }

  /** Present chunks are touched like a put's dedup hit: the caller skips uploading them because it will reference them. */
  async missing(hashes: readonly Hash[]): Promise<Hash[]> {
    hashes.forEach((h) => assertHash(h));
    const unique = [...new Set(hashes)];
    const present = await mapLimit(unique, this.concurrency, (h) => this.present(h));
    return unique.filter((_, i) => !present[i]);
  }

  /**
   * Whether the chunk is stored, for a writer that will reference it instead of writing it: one older than
   * `refreshAfterMs` is touched so GC's grace period counts from now. A chunk deleted (by GC) between the
   * HEAD and the touch is reported absent, so the caller writes it again.
   */
  private async present(hash: Hash): Promise<boolean> {
    const key = this.key(hash);
    const info = await this.objects.head(key);
    if (!info) return false;
    if (Date.now() - info.modifiedAt < this.refreshAfterMs) return true;
    return this.objects.touch(key);
  }

  async stat(hash: Hash): Promise<ChunkStat | undefined> {
    const info = await this.objects.head(this.key(hash));
    return info && { hash, size: info.size, modifiedAt: info.modifiedAt };
  }

  async getStream(hash: Hash, opts?: GetOptions): Promise<AsyncIterable<Uint8Array>> {
    const key = this.key(hash);
    let source: AsyncIterable<Uint8Array>;
    try {
      source = await this.objects.getStream(key, opts?.signal ? { signal: opts.signal } : undefined);
    } catch (err) {
      if (isArmillariaError(err, ErrorCode.ObjectNotFound)) throw new ChunkNotFoundError(hash);
      throw err;
    }
    const bytes = chunkStream(source, () => new ChunkCorruptError(hash, '', 'its stored form does not inflate'));
    if (opts?.verify === false) return bytes;
    return verifyingStream(bytes, this.hasher, (actual) => {
      if (actual !== hash) throw new ChunkCorruptError(hash, actual);
    });
  }

  async putStream(body: AsyncIterable<Uint8Array>, opts?: { expectedHash?: Hash }): Promise<Hash> {
    const expected = opts?.expectedHash;
    if (expected !== undefined) {
      assertHash(expected);
      if (await this.present(expected)) {
        // Still consume and verify: the caller's claim must hold even when we store nothing.
        let actual = '';
        for await (const _ of verifyingStream(body, this.hasher, (h) => (actual = h)));
        if (actual !== expected) throw new HashMismatchError(expected, actual);
        return expected;
      }
      // The verifying wrapper throws before the stream ends on a mismatch, so the object store aborts
      // the write and nothing appears under the claimed name.
      const checked = verifyingStream(body, this.hasher, (actual) => {
        if (actual !== expected) throw new HashMismatchError(expected, actual);
      });
      try {
        await this.objects.putStream(this.key(expected), checked, { ifNoneMatch: '*' });
      } catch (err) {
        if (!isArmillariaError(err, ErrorCode.PreconditionFailed)) throw err;
      }
      return expected;
    }
    // Unknown hash: spool to a local temp file while hashing, then store under the real name.
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-put-'));
    try {
      const file = join(dir, 'body');
      const out = createWriteStream(file);
      const inc = this.hasher.createIncremental();
      for await (const piece of body) {
        inc.update(piece);
        if (!out.write(piece)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'close');
      const hash = inc.digest();
      if (!(await this.present(hash))) {
        try {
          await this.objects.putStream(this.key(hash), createReadStream(file, { highWaterMark: 1 << 20 }), { ifNoneMatch: '*' });
        } catch (err) {
          if (!isArmillariaError(err, ErrorCode.PreconditionFailed)) throw err;
        }
      }
      return hash;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async *list(opts?: { startAfter?: Hash }): AsyncIterable<ChunkStat> {
    const listOpts = opts?.startAfter !== undefined ? { startAfter: this.key(opts.startAfter) } : undefined;
    for await (const info of this.objects.list(`${this.prefix}/`, listOpts)) {
      const hash = hashFromChunkKey(info.key);
      if (hash) yield { hash, size: info.size, modifiedAt: info.modifiedAt };
    }
  }

  async delete(hashes: readonly Hash[]): Promise<void> {
    for (const h of hashes) this.cache?.delete(h);
    await this.objects.deleteMany(hashes.map((h) => this.key(h)));
  }

  async close(): Promise<void> {
    await this.objects.close();
  }
}
