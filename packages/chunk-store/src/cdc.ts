import { InvalidArgumentError } from '@armillaria/core';
import type { CdcParams } from './hasher.js';

/**
 * Content-defined chunking in plain JS for the WASM fallback: a bit-for-bit mirror of
 * `native/src/cdc.rs` (FastCDC 2020 cut rule, normalized chunking level 2, 32-bit gear hash).
 * Same seed, same PRNG, same masks, same loop: the boundaries are part of the storage format, since
 * they decide chunk hashes, so both implementations must agree on every input (the tests check it).
 */

/** Seed of the gear table ("ARMI"); must equal GEAR_SEED in native/src/cdc.rs. */
export const CDC_GEAR_SEED = 0x41524d49;

/** Largest accepted `maxSize` (1 GiB); must equal MAX_CDC_SIZE in native/src/cdc.rs. */
export const MAX_CDC_SIZE = 1 << 30;

/** mulberry32, written with 32-bit integer ops so it matches the Rust `wrapping_*` version exactly. */
function gearTable(): Uint32Array {
  const table = new Uint32Array(256);
  let a = CDC_GEAR_SEED | 0;
  for (let i = 0; i < 256; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    table[i] = (t ^ (t >>> 14)) >>> 0;
  }
  return table;
}

const GEAR = gearTable();

/** A copy of the gear table (tests compare it with the addon's). */
export function cdcGearTable(): number[] {
  return Array.from(GEAR);
}

/** Throws INVALID_ARGUMENT unless `data` is a Uint8Array (Buffer included). */
export function assertBytes(data: unknown, name = 'data'): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${name} must be a Uint8Array, got ${data === null ? 'null' : typeof data}`);
  }
}

/** Throws INVALID_ARGUMENT unless sizes are integers with 0 < min <= avg <= max <= 1 GiB. */
export function validateCdcParams(params: CdcParams): void {
  if (typeof params !== 'object' || params === null) throw new InvalidArgumentError('cdc params must be an object');
  for (const key of ['minSize', 'avgSize', 'maxSize'] as const) {
    const v: unknown = params[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new InvalidArgumentError(`cdc ${key} must be a positive integer, got ${String(v)}`, { details: { [key]: String(v) } });
    }
  }
  const { minSize, avgSize, maxSize } = params;
  if (!(minSize <= avgSize && avgSize <= maxSize)) {
    throw new InvalidArgumentError(`cdc sizes must satisfy minSize <= avgSize <= maxSize, got ${minSize} / ${avgSize} / ${maxSize}`, {
      details: { minSize, avgSize, maxSize },
    });
  }
  if (maxSize > MAX_CDC_SIZE) {
    throw new InvalidArgumentError(`cdc maxSize must be <= ${MAX_CDC_SIZE}, got ${maxSize}`, { details: { maxSize } });
  }
}

/** The `bits` highest bits: bit k of the gear hash depends on the last k + 1 bytes. */
function highMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - Math.min(bits, 32))) >>> 0;
}

/** [harder mask before avgSize, easier mask after], from floor(log2(avgSize)). */
function masks(avgSize: number): [number, number] {
  const bits = 31 - Math.clz32(avgSize);
  return [highMask(Math.min(bits + 2, 32)), highMask(Math.max(bits - 2, 0))];
}

/** Length of the chunk starting at `start` (ends at `end`). */
function cut(data: Uint8Array, start: number, end: number, p: CdcParams, maskS: number, maskL: number): number {
  let n = end - start;
  if (n <= p.minSize) return n;
  if (n > p.maxSize) n = p.maxSize;
  const normal = n < p.avgSize ? n : p.avgSize;
  let fp = 0;
  let i = p.minSize;
  for (; i < normal; i++) {
    fp = ((fp << 1) + GEAR[data[start + i]!]!) >>> 0;
    if ((fp & maskS) === 0) return i + 1;
  }
  for (; i < n; i++) {
    fp = ((fp << 1) + GEAR[data[start + i]!]!) >>> 0;
    if ((fp & maskL) === 0) return i + 1;
  }
  return n;
}

/** Lengths of consecutive chunks covering `data`: each within [minSize, maxSize] except possibly the last. */
export function cdcChunkLengthsJs(data: Uint8Array, params: CdcParams): number[] {
  assertBytes(data);
  validateCdcParams(params);
  const [maskS, maskL] = masks(params.avgSize);
  const out: number[] = [];
  for (let offset = 0; offset < data.length; ) {
    const len = cut(data, offset, data.length, params, maskS, maskL);
    out.push(len);
    offset += len;
  }
  return out;
}
