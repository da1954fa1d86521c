import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type StorageClass,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Semaphore } from '@armillaria/core';
import { DirectRequests } from './s3-direct.js';

/**
 * The one module that talks to the AWS SDK: a thin, typed surface over the S3 calls the object store needs,
 * with the connection pool, the request bound and the retry policy. GETs and HEADs to an explicit
 * path-style endpoint, and puts of one request, are signed by the SDK's signer and sent without its
 * client (s3-direct.ts). Every failure comes out as an S3CallError
 * whose `kind` the store maps to Armillaria errors. Credentials only go into the SDK's signer, never into a
 * message.
 */
export interface S3ClientOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Requests in flight (a semaphore) and pooled keep-alive sockets. */
  maxConcurrency: number;
  /** SDK attempts per request, with exponential backoff, for 5xx, throttling and connection errors. */
  maxAttempts: number;
  /** Connect timeout in ms (default 5 s), so an unreachable endpoint fails instead of hanging. */
  connectionTimeoutMs?: number;
  /** Socket idle timeout per request in ms (default 60 s). */
  requestTimeoutMs?: number;
}

/** How a failed S3 call should be read by the store. */
export type S3ErrorKind = 'not-found' | 'no-bucket' | 'precondition' | 'unavailable' | 'rejected';

export class S3CallError extends Error {
  constructor(
    readonly kind: S3ErrorKind,
    readonly status: number | undefined,
    readonly s3Code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'S3CallError';
  }
}

export interface S3Head {
  size: number;
  etag: string;
  modifiedAt: number;
}

export interface S3ListedObject extends S3Head {
  key: string;
}

export interface S3Conditions {
  ifNoneMatch?: '*';
  ifMatch?: string;
}

export class S3Api {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly limit: Semaphore;
  private readonly direct: DirectRequests | undefined;

  constructor(options: S3ClientOptions) {
    this.bucket = options.bucket;
    this.limit = new Semaphore(options.maxConcurrency);
    const agent = { keepAlive: true, maxSockets: options.maxConcurrency };
    const httpAgent = new HttpAgent(agent);
    const httpsAgent = new HttpsAgent(agent);
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      maxAttempts: options.maxAttempts,
      retryMode: 'standard',
      // MinIO and other S3 implementations differ on the newer default checksums; send them only where required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.accessKeyId !== undefined &&
        options.secretAccessKey !== undefined && { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }),
      requestHandler: new NodeHttpHandler({
        httpAgent,
        httpsAgent,
        connectionTimeout: options.connectionTimeoutMs ?? 5_000,
        requestTimeout: options.requestTimeoutMs ?? 60_000,
      }),
    });
    // Reads, existence checks and single-request puts skip the SDK's middleware where the address is plain (s3-direct.ts).
    if (options.endpoint !== undefined && options.forcePathStyle) {
      this.direct = new DirectRequests({
        endpoint: options.endpoint,
        region: options.region,
        bucket: options.bucket,
        credentials: this.client.config.credentials,
        httpAgent,
        httpsAgent,
        maxAttempts: options.maxAttempts,
        connectionTimeoutMs: options.connectionTimeoutMs ?? 5_000,
        requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
      });
    }
  }

  /**
   * Every request goes through the semaphore. For a GET the slot is released when the headers arrive: the body
   * is read by the caller at its own pace (the socket pool still bounds open bodies).
   */
  private async call<T>(op: string, target: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.limit.run(fn);
    } catch (err) {
      throw toCallError(err, op, `${this.bucket}/${target}`);
    }
  }

  async getObject(key: string, signal?: AbortSignal): Promise<{ body: AsyncIterable<Uint8Array>; size: number }> {
    const direct = this.direct;
    if (direct) {
      const res = await this.call('GetObject', key, () => direct.send('GET', key, { signal }));
      return { body: res.body, size: Number(res.headers['content-length'] ?? 0) };
    }
    const out = await this.call('GetObject', key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), signal ? { abortSignal: signal } : {}));
    return { body: out.Body as Readable, size: out.ContentLength ?? 0 };
  }

  async headObject(key: string): Promise<S3Head | undefined> {
    const direct = this.direct;
    if (direct) {
      try {
        const res = await this.call('HeadObject', key, () => direct.send('HEAD', key));
        res.body.resume();
        const modified = res.headers['last-modified'];
        return { size: Number(res.headers['content-length'] ?? 0), etag: unquote(res.headers.etag), modifiedAt: modified ? Date.parse(modified) : 0 };
      } catch (err) {
        if (err instanceof S3CallError && err.kind === 'not-found') return undefined;
        throw err;
      }
    }
    try {
      const out = await this.call('HeadObject', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return { size: out.ContentLength ?? 0, etag: unquote(out.ETag), modifiedAt: out.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (err instanceof S3CallError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  /**
   * Renews LastModified by copying the object onto itself. S3 refuses a self-copy that changes nothing, so
   * the metadata is replaced by itself plus `armillaria-touched`; content type and storage class are carried over, and
   * `CopySourceIfMatch` keeps a concurrent replacement (which is new anyway) from being overwritten with
   * the older bytes. False when the object is absent. CopyObject takes objects up to 5 GiB.
   */
  async touchObject(key: string): Promise<boolean> {
    let head;
    try {
      head = await this.call('HeadObject', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
    } catch (err) {
      if (err instanceof S3CallError && err.kind === 'not-found') return false;
      throw err;
    }
    try {
      await this.call('CopyObject', key, () =>
        this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: key,
            CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
            CopySourceIfMatch: head.ETag,
            MetadataDirective: 'REPLACE',
            ContentType: head.ContentType,
            // REPLACE would otherwise also reset the storage class to STANDARD.
            ...(head.StorageClass !== undefined && { StorageClass: head.StorageClass as StorageClass }),
            Metadata: { ...head.Metadata, 'armillaria-touched': new Date().toISOString() },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (err instanceof S3CallError && err.kind === 'not-found') return false;
      if (err instanceof S3CallError && err.kind === 'precondition') return true; // replaced since the HEAD: written just now
      throw err;
    }
  }

  async putObject(key: string, body: Uint8Array, cond: S3Conditions, contentType?: string, signal?: AbortSignal): Promise<string> {
    const direct = this.direct;
    if (direct) {
      const c = conditionHeaders(cond);
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (c.IfNoneMatch !== undefined) headers['if-none-match'] = c.IfNoneMatch;
      if (c.IfMatch !== undefined) headers['if-match'] = c.IfMatch;
      const res = await this.call('PutObject', key, () => direct.send('PUT', key, { body, headers, signal }));
      res.body.resume();
      return unquote(res.headers.etag);
    }
    const out = await this.call('PutObject', key, () =>
      this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.byteLength, ContentType: contentType, ...conditionHeaders(cond) }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return unquote(out.ETag);
  }

  async createMultipartUpload(key: string, contentType?: string): Promise<string> {
    const out = await this.call('CreateMultipartUpload', key, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType })),
    );
    if (!out.UploadId) throw new S3CallError('rejected', undefined, 'NoUploadId', `CreateMultipartUpload ${this.bucket}/${key}: no upload id in the reply`);
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array, signal?: AbortSignal): Promise<string> {
    const out = await this.call('UploadPart', key, () =>
      this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength }),
        signal ? { abortSignal: signal } : {},
      ),
    );
    return out.ETag ?? '';
  }

  async completeMultipartUpload(key: string, uploadId: string, partEtags: readonly string[], cond: S3Conditions): Promise<string> {
    const out = await this.call('CompleteMultipartUpload', key, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: partEtags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          ...conditionHeaders(cond),
        }),
      ),
    );
    return unquote(out.ETag);
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.call('AbortMultipartUpload', key, () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })));
  }

  /** One page of ListObjectsV2 (at most 1000 keys). */
  async listPage(prefix: string, startAfter: string | undefined, token: string | undefined): Promise<{ objects: S3ListedObject[]; next: string | undefined }> {
    const out = await this.call('ListObjectsV2', prefix, () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, StartAfter: startAfter, ContinuationToken: token })),
    );
    const objects = (out.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? 0, etag: unquote(o.ETag), modifiedAt: o.LastModified?.getTime() ?? 0 }));
    return { objects, next: out.IsTruncated ? out.NextContinuationToken : undefined };
  }

  async deleteObject(key: string): Promise<void> {
    await this.call('DeleteObject', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** DeleteObjects for up to 1000 keys; returns the keys S3 failed to delete, with its reason. */
  async deleteObjects(keys: readonly string[]): Promise<Array<{ key: string; code: string }>> {
    const out = await this.call('DeleteObjects', `${keys.length} keys`, () =>
      this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })),
    );
    return (out.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'Unknown' }));
  }

  async headBucket(): Promise<void> {
    await this.call('HeadBucket', '', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  async createBucket(): Promise<void> {
    try {
      await this.call('CreateBucket', '', () => this.client.send(new CreateBucketCommand({ Bucket: this.bucket })));
    } catch (err) {
      if (err instanceof S3CallError && err.s3Code === 'BucketAlreadyOwnedByYou') return;
      throw err;
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

function conditionHeaders(cond: S3Conditions): { IfNoneMatch?: string; IfMatch?: string } {
  if (cond.ifNoneMatch) return { IfNoneMatch: '*' };
  if (cond.ifMatch !== undefined) return { IfMatch: `"${cond.ifMatch}"` };
  return {};
}

/** S3 etags come quoted (`"abc"`) from some calls and listings; the store hands them out bare. */
function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^(W\/)?"(.*)"$/, '$2');
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $retryable?: unknown;
}

const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);
const PRECONDITION_CODES = new Set(['PreconditionFailed', 'ConditionalRequestConflict']);

/** Reads an SDK or network error. Messages name the call, bucket and key, S3's code, status and request id. */
function toCallError(err: unknown, op: string, target: string): Error {
  if (err instanceof S3CallError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  if (e.name === 'AbortError') return err as Error;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name ?? e.code ?? 'Unknown';
  const detail = `${op} ${target}: ${code}${status ? ` (HTTP ${status})` : ''}${e.$metadata?.requestId ? ` request ${e.$metadata.requestId}` : ''}`;
  let kind: S3ErrorKind;
  if (code === 'NoSuchBucket') kind = 'no-bucket';
  else if (NOT_FOUND_CODES.has(code) || status === 404) kind = 'not-found';
  else if (PRECONDITION_CODES.has(code) || status === 412) kind = 'precondition';
  // No status: the request never got an answer (refused, reset, timed out) after the SDK's retries.
  else if (status === undefined || status >= 500 || status === 429 || status === 403 || status === 401) kind = 'unavailable';
  else kind = 'rejected';
  return new S3CallError(kind, status, code, `${detail}${e.message && e.message !== code ? `: ${e.message}` : ''}`, { cause: err });
}
