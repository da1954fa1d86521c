import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InvalidArgumentError, type Hash } from '@armillaria/core';
import { createBLAKE3, type IHasher } from 'hash-wasm';
import { assertBytes, cdcChunkLengthsJs, cdcGearTable } from './cdc.js';
import type { CdcParams, Hasher, IncrementalHasher } from './hasher.js';

/** hashMany hands the event loop back after this many bytes, so a big batch does not starve I/O. */
const YIELD_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * The fallback `Hasher`: hash-wasm's BLAKE3 (single-threaded WASM) and the JS CDC of `cdc.ts`.
 * Same results as the native addon, several times slower; used when the addon is missing or
 * `ARMILLARIA_HASHER=wasm`.
 */
export class WasmHasher implements Hasher {
  readonly kind = 'wasm' as const;

  /** `shared` serves the synchronous calls, which cannot interleave on one JS thread. */
  private constructor(private readonly shared: IHasher) {}

  static async load(): Promise<WasmHasher> {
    return new WasmHasher(await createBLAKE3());
  }

  hash(data: Uint8Array): Hash {
    assertBytes(data);
    return this.shared.init().update(data).digest('hex');
  }

  /**
   * Sequential on the main thread (WASM has no threads here), but yields between slices; it uses
   * its own WASM instance because another call may run on `shared` while this one is suspended.
   */
  async hashMany(buffers: readonly Uint8Array[]): Promise<Hash[]> {
    if (!Array.isArray(buffers)) throw new InvalidArgumentError('buffers must be an array of Uint8Array');
    buffers.forEach((b, i) => assertBytes(b, `buffers[${i}]`));
    const own = await createBLAKE3();
    const out: Hash[] = [];
    let sinceYield = 0;
    for (const buf of buffers) {
      own.init();
      for (let off = 0; off < buf.length; off += YIELD_EVERY_BYTES) {
        const piece = buf.subarray(off, off + YIELD_EVERY_BYTES);
        own.update(piece);
        sinceYield += piece.length;
        if (sinceYield >= YIELD_EVERY_BYTES) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
      out.push(own.digest('hex'));
    }
    return out;
  }

  createIncremental(): IncrementalHasher {
    return new WasmIncremental(this.shared);
  }

  cdcChunkLengths(data: Uint8Array, params: CdcParams): number[] {
    return cdcChunkLengthsJs(data, params);
  }

  /** The JS gear table (tests check it equals the addon's). */
  gearTable(): number[] {
    return cdcGearTable();
  }
}

/**
 * Keeps its own saved state and borrows the shared instance per call (load, update, save), so
 * `createIncremental()` stays synchronous and any number of incremental hashers can be open at once.
 */
class WasmIncremental implements IncrementalHasher {
  private state: Uint8Array | undefined;

  constructor(private readonly shared: IHasher) {
    this.state = shared.init().save();
  }

  update(data: Uint8Array): void {
    assertBytes(data);
    this.state = this.shared.load(this.live()).update(data).save();
  }

  digest(): Hash {
    const hash = this.shared.load(this.live()).digest('hex');
    this.state = undefined;
    return hash;
  }

  private live(): Uint8Array {
    if (!this.state) throw new InvalidArgumentError('incremental hasher used after digest()');
    return this.state;
  }
}
