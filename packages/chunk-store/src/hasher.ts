import type { Hash } from '@armillaria/core';

/**
 * BLAKE3 and content-defined chunking, from the native addon when it loads, otherwise from the
 * WASM fallback; both give identical results (checked against the official test vectors).
 */
export interface Hasher {
  /** `native` (napi-rs addon) or `wasm` (hash-wasm fallback). */
  readonly kind: 'native' | 'wasm';
  /** BLAKE3-256 of one buffer, synchronously on the calling thread. */
  hash(data: Uint8Array): Hash;
  /** BLAKE3-256 of many buffers, in parallel off the JS main thread where available. */
  hashMany(buffers: readonly Uint8Array[]): Promise<Hash[]>;
  /** An incremental hasher for streams and large files. */
  createIncremental(): IncrementalHasher;
  /** Content-defined chunk boundaries (FastCDC-style gear hash): lengths of consecutive chunks. */
  cdcChunkLengths(data: Uint8Array, params: CdcParams): number[];
}

export interface IncrementalHasher {
  update(data: Uint8Array): void;
  /** The hash of everything passed to `update`; the hasher cannot be used afterwards. */
  digest(): Hash;
}

export interface CdcParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}
