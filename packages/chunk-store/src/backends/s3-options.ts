import { InvalidArgumentError } from '@armillaria/core';
import { assertListPrefix } from './keys.js';

export interface S3ObjectStoreOptions {
  /** e.g. `http://127.0.0.1:9000` for MinIO; omitted for AWS S3 (the region's endpoint). */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  bucket: string;
  /** Key prefix inside the bucket (a '/' is appended if missing), so several stores can share a bucket. */
  prefix?: string;
  /** Both or neither; neither uses the SDK's default credential chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by MinIO (default true). */
  forcePathStyle?: boolean;
  /** S3 requests in flight across all calls of this store, and keep-alive sockets (default 32). */
  maxConcurrency?: number;
  /** Attempts per request, with backoff, on 5xx, throttling and connection errors (default 5). */
  maxAttempts?: number;
  /** Bodies larger than this use multipart upload (default 16 MiB). */
  multipartThresholdBytes?: number;
  /** Multipart part size (default 8 MiB; S3's minimum is 5 MiB). */
  partSizeBytes?: number;
  /** Parts of one object uploading at once (default 4). */
  partConcurrency?: number;
  /** Connect timeout in ms (default 5 s). */
  connectionTimeoutMs?: number;
}

const MiB = 1 << 20;

/** Checks the options and fills in defaults; bad values throw INVALID_ARGUMENT naming the option. */
export function validateOptions(o: S3ObjectStoreOptions) {
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`S3ObjectStore: ${why}`);
  };
  if (!o || typeof o.bucket !== 'string' || o.bucket.length === 0) bad('bucket must be a non-empty string');
  if ((o.accessKeyId === undefined) !== (o.secretAccessKey === undefined)) bad('accessKeyId and secretAccessKey go together');
  const int = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min) bad(`${name} must be an integer >= ${min}`);
    return v;
  };
  let prefix = o.prefix ?? '';
  if (prefix !== '') {
    if (!prefix.endsWith('/')) prefix += '/';
    try {
      assertListPrefix(prefix);
    } catch {
      bad(`prefix ${JSON.stringify(prefix)} is not a valid key prefix`);
    }
  }
  return {
    prefix,
    maxConcurrency: int('maxConcurrency', o.maxConcurrency, 32, 1),
    maxAttempts: int('maxAttempts', o.maxAttempts, 5, 1),
    multipartThresholdBytes: int('multipartThresholdBytes', o.multipartThresholdBytes, 16 * MiB, 0),
    partSizeBytes: int('partSizeBytes', o.partSizeBytes, 8 * MiB, 5 * MiB),
    partConcurrency: int('partConcurrency', o.partConcurrency, 4, 1),
  };
}
