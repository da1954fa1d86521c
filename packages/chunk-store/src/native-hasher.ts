import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ArmillariaError, ErrorCode, InvalidArgumentError, type Hash } from '@armillaria/core';
import { assertBytes, validateCdcParams } from './cdc.js';
import type { CdcParams, Hasher, IncrementalHasher } from './hasher.js';

/**
 * The only module that loads the napi-rs addon (`native/addon.node`, built by scripts/build.mjs).
 * It validates every input first, so callers get typed errors instead of raw napi ones.
 */

/** The addon's raw surface (see native/src/lib.rs). */
interface NativeBinding {
  hash(data: Uint8Array): string;
  hashMany(buffers: Uint8Array[], threads?: number | null): Promise<string[]>;
  cdcChunkLengths(data: Uint8Array, minSize: number, avgSize: number, maxSize: number): number[];
  cdcGearTable(): number[];
  nativeInfo(): { rayonThreads: number; maxPoolThreads: number };
  Blake3Incremental: new () => { update(data: Uint8Array): void; digest(): string };
}

/** Same path from src/ (tests, tsx) and dist/ (built package). */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../native/addon.node', import.meta.url));

let cached: { binding: NativeBinding } | { error: Error } | undefined;

function loadBinding(): { binding: NativeBinding } | { error: Error } {
  if (cached) return cached;
  try {
    const raw = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as Partial<NativeBinding>;
    const missing = (['hash', 'hashMany', 'cdcChunkLengths', 'cdcGearTable', 'nativeInfo', 'Blake3Incremental'] as const).filter(
      (k) => typeof raw[k] !== 'function',
    );
    // A stale addon from an older build would otherwise fail later, at some unrelated call.
    if (missing.length) throw new Error(`addon at ${NATIVE_ADDON_PATH} lacks ${missing.join(', ')}: rebuild with npm run build:native`);
    cached = { binding: raw as NativeBinding };
  } catch (err) {
    cached = { error: err instanceof Error ? err : new Error(String(err)) };
  }
  return cached;
}

/** Why the addon cannot be used, or undefined when it loads. */
export function nativeLoadError(): Error | undefined {
  const r = loadBinding();
  return 'error' in r ? r.error : undefined;
}

/**
 * BLAKE3 and CDC from the Rust addon: SIMD BLAKE3, `hashMany` on the libuv pool with rayon.
 * `hashMany` does not copy its inputs: the addon holds references to them, so do not mutate
 * (or transfer) a buffer until the returned promise settles.
 */
export class NativeHasher implements Hasher {
  readonly kind = 'native' as const;

  private constructor(private readonly native: NativeBinding) {}

  /** Throws INTERNAL (with the load error as `cause`) when the addon is missing or broken. */
  static load(): NativeHasher {
    const r = loadBinding();
    if ('error' in r) {
      throw new ArmillariaError(ErrorCode.Internal, `native BLAKE3 addon unavailable: ${r.error.message}`, { cause: r.error });
    }
    return new NativeHasher(r.binding);
  }

  /** Single-threaded on the calling thread: use `hashMany` for big inputs you do not want to block on. */
  hash(data: Uint8Array): Hash {
    assertBytes(data);
    return this.native.hash(data);
  }

  hashMany(buffers: readonly Uint8Array[]): Promise<Hash[]> {
    return this.hashManyWithThreads(buffers, undefined);
  }

  /**
   * `hashMany` on a dedicated rayon pool of `threads` threads (built once per count and kept), for
   * benchmarks and callers that want to bound CPU use; undefined means rayon's global pool.
   */
  async hashManyWithThreads(buffers: readonly Uint8Array[], threads: number | undefined): Promise<Hash[]> {
    if (!Array.isArray(buffers)) throw new InvalidArgumentError('buffers must be an array of Uint8Array');
    buffers.forEach((b, i) => assertBytes(b, `buffers[${i}]`));
    const max = this.native.nativeInfo().maxPoolThreads;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= max)) {
      throw new InvalidArgumentError(`threads must be an integer within 1..${max}, got ${String(threads)}`);
    }
    return this.native.hashMany([...buffers], threads ?? null);
  }

  createIncremental(): IncrementalHasher {
    return new NativeIncremental(new this.native.Blake3Incremental());
  }

  cdcChunkLengths(data: Uint8Array, params: CdcParams): number[] {
    assertBytes(data);
    validateCdcParams(params);
    return this.native.cdcChunkLengths(data, params.minSize, params.avgSize, params.maxSize);
  }

  /** The addon's gear table (tests check it equals the JS one). */
  gearTable(): number[] {
    return this.native.cdcGearTable();
  }

  /** Threads in rayon's global pool, used by `hashMany`. */
  get rayonThreads(): number {
    return this.native.nativeInfo().rayonThreads;
  }
}

class NativeIncremental implements IncrementalHasher {
  private done = false;

  constructor(private readonly inner: { update(data: Uint8Array): void; digest(): string }) {}

  update(data: Uint8Array): void {
    this.assertLive();
    assertBytes(data);
    this.inner.update(data);
  }

  digest(): Hash {
    this.assertLive();
    this.done = true;
    return this.inner.digest();
  }

  private assertLive(): void {
    if (this.done) throw new InvalidArgumentError('incremental hasher used after digest()');
  }
}
