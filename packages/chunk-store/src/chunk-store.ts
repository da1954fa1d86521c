import type { Hash } from '@armillaria/core';

/**
 * Immutable, content-addressed chunks named by their BLAKE3-256 hash.
 * Implementations: `ObjectChunkStore` over any ObjectStore, and `RemoteChunkStore` over HTTP.
 * Every implementation passes `test/chunk-store.contract.ts`.
 *
 * Contract shared by all methods: a hash argument that is not 64 lowercase hex characters is rejected
 * with InvalidHashError (INVALID_HASH) before any I/O.
 */
export interface ChunkStore {
  /**
   * Hashes and stores `bytes`; storing bytes that already exist writes nothing (at most it renews the
   * chunk's `modifiedAt` for GC, see ObjectChunkStore's `refreshAfterMs`). Returns the hash.
   */
  put(bytes: Uint8Array, opts?: { expectedHash?: Hash }): Promise<Hash>;

  /**
   * Stores many chunks in one call: hashed in parallel in native code, written with bounded
   * concurrency, skipping those already present. Returns hashes in input order. `knownMissing`: the
   * caller has just learnt from `missing` that these chunks are absent, so the per-chunk presence check
   * is skipped (one lookup less per chunk); a chunk stored meanwhile is still never overwritten.
   */
  putBatch(chunks: readonly Uint8Array[], opts?: PutBatchOptions): Promise<Hash[]>;

  /**
   * The bytes of `hash`. By default they are re-hashed and a mismatch throws ChunkCorruptError
   * (CHUNK_CORRUPT) naming the hash; corrupt data is never returned. Absent: ChunkNotFoundError.
   */
  get(hash: Hash, opts?: GetOptions): Promise<Uint8Array>;

  /** Many chunks, in input order, fetched with bounded concurrency; same verification as `get`. */
  getBatch(hashes: readonly Hash[], opts?: GetOptions): Promise<Uint8Array[]>;

  has(hash: Hash): Promise<boolean>;

  /**
   * Which of `hashes` the store lacks (input order, deduplicated): lets a client upload only what is new.
   * Like a put that finds its chunk stored, it keeps the present ones fresh for GC (the caller is about to
   * reference them; see ObjectChunkStore's `refreshAfterMs`).
   */
  missing(hashes: readonly Hash[]): Promise<Hash[]>;

  /** Size of a stored chunk, or undefined when absent. */
  stat(hash: Hash): Promise<ChunkStat | undefined>;

  /**
   * Streams a large chunk; the hash is verified incrementally and a mismatch makes the iterator throw
   * ChunkCorruptError at the end, so consumers must treat data as tentative until the stream completes.
   */
  getStream(hash: Hash, opts?: GetOptions): Promise<AsyncIterable<Uint8Array>>;

  /**
   * Stores a stream, hashing as it goes; the chunk appears under its hash only once complete and
   * verified against `expectedHash` when given (HashMismatchError otherwise).
   */
  putStream(body: AsyncIterable<Uint8Array>, opts?: { expectedHash?: Hash }): Promise<Hash>;

  /** Every stored chunk (for garbage collection and verify), streamed in hash order. */
  list(opts?: { startAfter?: Hash }): AsyncIterable<ChunkStat>;

  /** Removes chunks (garbage collection only). */
  delete(hashes: readonly Hash[]): Promise<void>;

  close(): Promise<void>;
}

/**
 * Chunks up to this size are written without asking first whether the store has them: they are mostly
 * new (commits, trees, manifests), and a create-only write's refusal tells "already stored" as well as
 * the question would, in one round trip instead of two. Larger ones are asked about, so a dedup hit
 * uploads nothing. (Not exported from the package: both stores' policy.)
 */
export const PUT_FIRST_BYTES = 64 * 1024;

export interface PutBatchOptions {
  knownMissing?: boolean;
}

export interface GetOptions {
  /** Default true. Turn off only where the caller re-verifies by itself. */
  verify?: boolean;
  /** Read the stored object even when the store keeps a verified copy in memory (a verify checks storage). Stores without a cache ignore it. */
  skipCache?: boolean;
  signal?: AbortSignal;
}

export interface ChunkStat {
  hash: Hash;
  size: number;
  /** When the chunk was written, ms since the epoch (GC's grace period reads this). */
  modifiedAt: number;
}
