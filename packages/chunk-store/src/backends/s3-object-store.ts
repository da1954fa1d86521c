import { ArmillariaError, BackendUnavailableError, ErrorCode, InvalidArgumentError, ObjectNotFoundError, PreconditionFailedError, mapLimit } from '@armillaria/core';
import type { ObjectInfo, ObjectStore, PutOptions, PutResult } from '../object-store.js';
import { MAX_KEY_BYTES, assertListPrefix, assertStartAfter, assertObjectKey, invalidKey } from './keys.js';
import { type PutCondition, assertBody, assertPiece, assertStreamBody, putCondition } from './put-options.js';
import { S3Api, S3CallError, type S3Conditions } from './s3-client.js';
import { uploadMultipart } from './s3-multipart.js';
import { type S3ObjectStoreOptions, validateOptions } from './s3-options.js';

export type { S3ObjectStoreOptions } from './s3-options.js';

const DELETE_BATCH = 1000;

/**
 * ObjectStore on S3 or MinIO. Puts are single PutObject calls up to `multipartThresholdBytes` and multipart
 * uploads above it and for every stream that outgrows it; in both cases the object appears whole or not at
 * all. Conditions travel as `If-None-Match: *` / `If-Match` headers on PutObject or
 * CompleteMultipartUpload, so S3 checks them atomically; 412 and 409 ConditionalRequestConflict become
 * PreconditionFailedError. Etags are S3's, unquoted (an MD5 for single puts, `<md5>-<parts>` for multipart).
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly api: S3Api;
  private readonly prefix: string;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly maxConcurrency: number;

  constructor(options: S3ObjectStoreOptions) {
    const o = validateOptions(options);
    this.prefix = o.prefix;
    this.threshold = o.multipartThresholdBytes;
    this.partSize = o.partSizeBytes;
    this.partConcurrency = o.partConcurrency;
    this.maxConcurrency = o.maxConcurrency;
    this.description = `s3://${options.bucket}/${this.prefix}`;
    this.api = new S3Api({
      bucket: options.bucket,
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? true,
      maxConcurrency: o.maxConcurrency,
      maxAttempts: o.maxAttempts,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.accessKeyId !== undefined && { accessKeyId: options.accessKeyId }),
      ...(options.secretAccessKey !== undefined && { secretAccessKey: options.secretAccessKey }),
      ...(options.connectionTimeoutMs !== undefined && { connectionTimeoutMs: options.connectionTimeoutMs }),
    });
  }

  /** Creates the bucket if it does not exist (idempotent; safe to race with other processes). */
  async ensureBucket(): Promise<void> {
    try {
      await this.api.headBucket();
    } catch (err) {
      if (!(err instanceof S3CallError && (err.kind === 'not-found' || err.kind === 'no-bucket'))) throw this.fail(err, '');
      await this.api.createBucket().catch((e) => {
        throw this.fail(e, '');
      });
    }
  }

  async get(key: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array> {
    const pieces: Uint8Array[] = [];
    let size = 0;
    for await (const piece of await this.getStream(key, opts)) {
      pieces.push(piece);
      size += piece.byteLength;
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  async getStream(key: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>> {
    const s3Key = this.s3Key(key);
    try {
      const { body } = await this.api.getObject(s3Key, opts?.signal);
      return this.guardBody(body, key);
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  /** Errors while the body streams (a reset socket) become BackendUnavailableError too. */
  private async *guardBody(body: AsyncIterable<Uint8Array>, key: string): AsyncGenerator<Uint8Array> {
    try {
      yield* body;
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      throw new BackendUnavailableError(`${this.description}: reading ${key} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      (body as { destroy?: () => void }).destroy?.();
    }
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult> {
    const s3Key = this.s3Key(key);
    assertBody(body);
    const condition = putCondition(opts);
    const cond = toS3Conditions(condition);
    try {
      if (body.byteLength <= this.threshold) {
        return { etag: await this.api.putObject(s3Key, body, cond, opts?.contentType, opts?.signal) };
      }
      await this.precheck(s3Key, key, condition);
      const parts: Uint8Array[] = [];
      for (let at = 0; at < body.byteLength; at += this.partSize) parts.push(body.subarray(at, at + this.partSize));
      return { etag: await uploadMultipart(this.api, s3Key, parts, undefined, this.multipartOptions(cond, opts)) };
    } catch (err) {
      throw this.fail(err, key, condition);
    }
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult> {
    const s3Key = this.s3Key(key);
    assertStreamBody(body);
    const condition = putCondition(opts);
    const cond = toS3Conditions(condition);
    try {
      await this.precheck(s3Key, key, condition);
      // Buffer up to the threshold: a small stream is one PutObject, a larger one continues as multipart.
      const it = body[Symbol.asyncIterator]();
      const head: Uint8Array[] = [];
      let size = 0;
      let r = await it.next();
      for (; !r.done; r = await it.next()) {
        assertPiece(r.value);
        head.push(new Uint8Array(r.value)); // copied: the source may reuse its buffer
        size += r.value.byteLength;
        if (size > this.threshold) break;
      }
      if (r.done) return { etag: await this.api.putObject(s3Key, concat(head, size), cond, opts?.contentType, opts?.signal) };
      return { etag: await uploadMultipart(this.api, s3Key, head, it, this.multipartOptions(cond, opts)) };
    } catch (err) {
      throw this.fail(err, key, condition);
    }
  }

  /** Fails a doomed conditional put before uploading megabytes; S3 still checks atomically at publish time. */
  private async precheck(s3Key: string, key: string, condition: PutCondition): Promise<void> {
    if (condition.kind === 'none') return;
    const current = await this.api.headObject(s3Key);
    if (condition.kind === 'absent' && current) throw new PreconditionFailedError(key, `${key} already exists`);
    if (condition.kind === 'etag' && current?.etag !== condition.etag) throw new PreconditionFailedError(key, `${key} does not have etag ${condition.etag}`);
  }

  private multipartOptions(cond: S3Conditions, opts: PutOptions | undefined) {
    return {
      partSizeBytes: this.partSize,
      partConcurrency: this.partConcurrency,
      cond,
      ...(opts?.contentType !== undefined && { contentType: opts.contentType }),
      ...(opts?.signal !== undefined && { signal: opts.signal }),
    };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const s3Key = this.s3Key(key);
    try {
      const h = await this.api.headObject(s3Key);
      return h && { key, ...h };
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async touch(key: string): Promise<boolean> {
    const s3Key = this.s3Key(key);
    try {
      return await this.api.touchObject(s3Key);
    } catch (err) {
      throw this.fail(err, key);
    }
  }

  async *list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    const startAfter = opts?.startAfter;
    assertStartAfter(startAfter);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.api.listPage(this.prefix + prefix, startAfter === undefined ? undefined : this.prefix + startAfter, token);
      } catch (err) {
        throw this.fail(err, prefix);
      }
      for (const o of page.objects) yield { ...o, key: o.key.slice(this.prefix.length) };
      token = page.next;
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      await this.api.deleteObject(s3Key);
    } catch (err) {
      if (err instanceof S3CallError && err.kind === 'not-found') return;
      throw this.fail(err, key);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('deleteMany: keys must be an array');
    const unique = [...new Set(keys.map((k) => this.s3Key(k)))];
    const batches: string[][] = [];
    for (let i = 0; i < unique.length; i += DELETE_BATCH) batches.push(unique.slice(i, i + DELETE_BATCH));
    await mapLimit(batches, this.maxConcurrency, async (batch) => {
      let failed;
      try {
        failed = await this.api.deleteObjects(batch);
      } catch (err) {
        throw this.fail(err, `${batch.length} keys`);
      }
      if (failed.length > 0) {
        const shown = failed.slice(0, 3).map((f) => `${f.key.slice(this.prefix.length)} (${f.code})`).join(', ');
        throw new BackendUnavailableError(`${this.description}: ${failed.length} of ${batch.length} deletes failed: ${shown}`);
      }
    });
  }

  async ping(): Promise<void> {
    try {
      await this.api.headBucket();
    } catch (err) {
      const missing = err instanceof S3CallError && (err.kind === 'not-found' || err.kind === 'no-bucket');
      throw new BackendUnavailableError(missing ? `${this.description}: bucket does not exist` : `${this.description}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.api.destroy();
  }

  /** The bucket key of `key`, after validation; the store's prefix counts towards S3's 1024-byte limit. */
  private s3Key(key: string): string {
    assertObjectKey(key);
    const full = this.prefix + key;
    if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) throw invalidKey(key, `with the store prefix ${JSON.stringify(this.prefix)} it exceeds ${MAX_KEY_BYTES} bytes`);
    return full;
  }

  /** S3 failures as Armillaria errors. Conditional puts read a missing object as a lost precondition. */
  private fail(err: unknown, key: string, condition?: PutCondition): Error {
    if (!(err instanceof S3CallError)) return err as Error; // typed errors, aborts, and the caller's own stream errors
    switch (err.kind) {
      case 'precondition':
        return new PreconditionFailedError(key, `${key}: precondition failed (${err.s3Code})`);
      case 'not-found':
        if (condition === undefined) return new ObjectNotFoundError(key);
        if (condition.kind === 'etag') return new PreconditionFailedError(key, `${key} does not exist`);
        return new BackendUnavailableError(`${this.description}: ${err.message}`, { cause: err });
      case 'no-bucket':
        return new BackendUnavailableError(`${this.description}: bucket does not exist (ensureBucket creates it): ${err.message}`, { cause: err });
      case 'unavailable':
        return new BackendUnavailableError(`${this.description}: ${err.message}`, { cause: err });
      case 'rejected':
        return new ArmillariaError(ErrorCode.Internal, `${this.description}: ${err.message}`, { cause: err });
    }
  }
}

function toS3Conditions(condition: PutCondition): S3Conditions {
  if (condition.kind === 'absent') return { ifNoneMatch: '*' };
  if (condition.kind === 'etag') return { ifMatch: condition.etag };
  return {};
}

function concat(pieces: readonly Uint8Array[], size: number): Uint8Array {
  if (pieces.length === 1) return pieces[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
