/**
 * Where bytes live: a flat key space of immutable-by-convention objects.
 * Implementations: FsObjectStore (local disk), S3ObjectStore (S3/MinIO), MemoryObjectStore (tests).
 * Every implementation passes `test/object-store.contract.ts`.
 */
export interface ObjectStore {
  /** A short label for logs and errors, e.g. `fs:/data/objects` or `s3://bucket/prefix`. */
  readonly description: string;

  /** The whole object. Throws ObjectNotFoundError (code OBJECT_NOT_FOUND) if `key` is absent. */
  get(key: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array>;

  /** The object as a stream of byte chunks, for large objects. Throws ObjectNotFoundError if absent. */
  getStream(key: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>>;

  /**
   * Stores `body` under `key`, atomically: readers see the old object, no object, or the whole new one,
   * never a prefix. With `ifNoneMatch: '*'` the put only succeeds when the key is absent and throws
   * PreconditionFailedError otherwise; with `ifMatch: etag` only when the current etag equals it.
   */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult>;

  /** Like `put` for a body that arrives as a stream (multipart on S3). Same atomicity. */
  putStream(key: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult>;

  /** Size and etag, or undefined when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** Every object whose key starts with `prefix`, in lexicographic key order, paginated internally. */
  list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<ObjectInfo>;

  /** Removes `key`; absent keys are not an error. */
  delete(key: string): Promise<void>;

  /** Removes many keys in as few round trips as the backend allows. */
  deleteMany(keys: readonly string[]): Promise<void>;

  /** Checks the backend is reachable (used by /readyz). Throws BackendUnavailableError. */
  ping(): Promise<void>;

  close(): Promise<void>;
}

export interface PutOptions {
  /** `'*'`: create only. */
  ifNoneMatch?: '*';
  /** Replace only if the current object has this etag. */
  ifMatch?: string;
  contentType?: string;
  signal?: AbortSignal;
}

export interface PutResult {
  etag: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  /** Last modification time in ms since the epoch. */
  modifiedAt: number;
}
