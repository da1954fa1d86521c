import { InvalidArgumentError, ObjectNotFoundError, PreconditionFailedError } from '@armillaria/core';
import type { ObjectInfo, ObjectStore, PutOptions, PutResult } from '../object-store.js';
import { assertListPrefix, assertObjectKey, assertStartAfter, compareKeys } from './keys.js';
import { type PutCondition, assertBody, assertPiece, assertStreamBody, putCondition } from './put-options.js';

interface Entry {
  readonly bytes: Uint8Array;
  readonly etag: string;
  readonly modifiedAt: number;
}

/** Pieces yielded by getStream; small enough to exercise multi-piece consumers in tests. */
const STREAM_PIECE_BYTES = 1 << 20;

/**
 * An ObjectStore in a Map, for tests and the in-process SDK. Bytes are copied on the way in and out, so a
 * caller mutating its buffer never changes stored data. Etags are `m<n>` from a per-store counter: every put
 * gets a new one, even of equal bytes, as on S3 after an overwrite with a different part layout.
 * Conditional puts are checked and applied in one synchronous step, so they are atomic within the process.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly description = 'memory:';
  private readonly objects = new Map<string, Entry>();
  private nextEtag = 1;

  async get(key: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array> {
    assertObjectKey(key);
    opts?.signal?.throwIfAborted();
    return new Uint8Array(this.entry(key).bytes);
  }

  async getStream(key: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>> {
    assertObjectKey(key);
    opts?.signal?.throwIfAborted();
    const { bytes } = this.entry(key);
    const signal = opts?.signal;
    return (async function* () {
      for (let at = 0; at < bytes.byteLength; at += STREAM_PIECE_BYTES) {
        signal?.throwIfAborted();
        yield bytes.slice(at, at + STREAM_PIECE_BYTES);
      }
    })();
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult> {
    assertObjectKey(key);
    assertBody(body);
    const condition = putCondition(opts);
    opts?.signal?.throwIfAborted();
    return this.commit(key, new Uint8Array(body), condition);
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult> {
    assertObjectKey(key);
    assertStreamBody(body);
    const condition = putCondition(opts);
    const pieces: Uint8Array[] = [];
    let size = 0;
    for await (const piece of body) {
      assertPiece(piece);
      opts?.signal?.throwIfAborted();
      // Copied now: sources may reuse their buffer for the next piece.
      pieces.push(new Uint8Array(piece));
      size += piece.byteLength;
    }
    opts?.signal?.throwIfAborted();
    // A source that throws never gets here, so a failed stream stores nothing.
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of pieces) {
      bytes.set(p, at);
      at += p.byteLength;
    }
    return this.commit(key, bytes, condition);
  }

  private commit(key: string, bytes: Uint8Array, condition: PutCondition): PutResult {
    const current = this.objects.get(key);
    if (condition.kind === 'absent' && current) throw new PreconditionFailedError(key, `${key} already exists`);
    if (condition.kind === 'etag' && current?.etag !== condition.etag) throw new PreconditionFailedError(key, `${key} does not have etag ${condition.etag}`);
    const etag = `m${this.nextEtag++}`;
    // `bytes` is a private copy (a plain Uint8Array, whose slice() copies, unlike Buffer's).
    this.objects.set(key, { bytes, etag, modifiedAt: Date.now() });
    return { etag };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    const e = this.objects.get(key);
    return e && { key, size: e.bytes.byteLength, etag: e.etag, modifiedAt: e.modifiedAt };
  }

  async touch(key: string): Promise<boolean> {
    assertObjectKey(key);
    const e = this.objects.get(key);
    if (!e) return false;
    this.objects.set(key, { ...e, modifiedAt: Date.now() });
    return true;
  }

  async *list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    const startAfter = opts?.startAfter;
    assertStartAfter(startAfter);
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (startAfter === undefined || compareKeys(k, startAfter) > 0))
      .sort(compareKeys);
    for (const key of keys) {
      // Deleted since the snapshot of keys: skip, as a paginated S3 listing would.
      const e = this.objects.get(key);
      if (e) yield { key, size: e.bytes.byteLength, etag: e.etag, modifiedAt: e.modifiedAt };
    }
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    this.objects.delete(key);
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('deleteMany: keys must be an array');
    keys.forEach((k) => assertObjectKey(k));
    for (const k of keys) this.objects.delete(k);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private entry(key: string): Entry {
    const e = this.objects.get(key);
    if (!e) throw new ObjectNotFoundError(key);
    return e;
  }
}
