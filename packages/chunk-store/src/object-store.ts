/**
 * Where bytes live: a flat key space of immutable-by-convention objects.
 * Implementations: FsObjectStore (local disk), S3ObjectStore (S3/MinIO), MemoryObjectStore (tests).
 * Every implementation passes `test/object-store.contract.ts`.
 *
 * Keys (the same rules on every backend, checked before any path or request is built; a bad key throws
 * InvalidArgumentError, code INVALID_ARGUMENT): non-empty, at most 1024 UTF-8 bytes, no leading '/', no empty,
 * '.' or '..' segment, no backslash or NUL, segments at most 255 bytes. Backend limits on top: FsObjectStore
 * reserves the first segments `.tmp` and `.locks` and cannot hold a key that is also a "directory" of others
 * (`a` and `a/b`); an S3ObjectStore's prefix counts towards the 1024 bytes.
 * Any method may throw BackendUnavailableError (code BACKEND_UNAVAILABLE) when the backend cannot be reached
 * or refuses service after retries.
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
   * PreconditionFailedError otherwise; with `ifMatch: etag` only when the current etag equals it (an absent
   * key fails too). Conditions are checked atomically with the write, also across processes; of concurrent
   * conditional puts against the same state exactly one wins. Both conditions at once, or a malformed one,
   * throw InvalidArgumentError. Stored bytes never alias `body`.
   */
  put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult>;

  /**
   * Like `put` for a body that arrives as a stream (multipart on S3). Same atomicity: if the source throws,
   * the error reaches the caller unchanged and nothing is stored (the old object, if any, is kept).
   */
  putStream(key: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult>;

  /** Size and etag, or undefined when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Makes an existing object count as written now: its `modifiedAt` becomes the current time (fs: mtime,
   * S3: LastModified through a self-copy) while its bytes stay the same; the etag may change (fs).
   * Returns false, creating nothing, when `key` is absent. Garbage collection reads `modifiedAt` as the
   * write time, so a create-only put that finds its bytes already stored (deduplication) touches them:
   * the writer is about to reference an object that may be old and unreachable (see ObjectChunkStore).
   */
  touch(key: string): Promise<boolean>;

  /**
   * Every object whose key starts with `prefix` (a key fragment; '' lists all) and sorts after `startAfter`,
   * in UTF-8 byte order of keys (S3's order), paginated internally and read lazily.
   */
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
  /**
   * Opaque; changes when the object is replaced. Memory: a per-store counter. Fs: inode, size and mtime (new
   * on every put). S3: S3's ETag unquoted (content MD5, so rewriting equal bytes keeps it).
   */
  etag: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  /** Last modification time in ms since the epoch. */
  modifiedAt: number;
}
