import { InvalidArgumentError } from '@armillaria/core';
import { isFeasibleRefPrefix } from './ref-names.js';
import type { ExpireReflogOptions, ExpireReflogResult } from './ref-store.js';

/** The checked arguments of one expireReflog. */
export interface ExpireRequest {
  before: number;
  prefix: string;
  /** False when no valid name can start with `prefix`: nothing to do, storage is not touched. */
  feasible: boolean;
}

/** Validates expireReflog arguments before any I/O (INVALID_ARGUMENT). */
export function checkExpireReflog(before: unknown, opts: ExpireReflogOptions | undefined): ExpireRequest {
  if (typeof before !== 'number' || !Number.isFinite(before)) {
    throw new InvalidArgumentError(`expireReflog before must be a finite time in ms, got ${String(before)}`);
  }
  if (opts !== undefined && (opts === null || typeof opts !== 'object')) throw new InvalidArgumentError('expireReflog options must be an object');
  const prefix = opts?.prefix ?? '';
  return { before, prefix, feasible: isFeasibleRefPrefix(prefix) };
}

/**
 * What expiry does to one ref's reflog, given how many of its entries are older than `before` (`old`), how
 * many it has (`total`) and whether the ref exists: `drop` entries go, oldest first. The newest old entry
 * stays as the ref's position when the window opened, unless the ref is deleted and has nothing newer:
 * then it is forgotten whole.
 */
export function expiryOf(old: number, total: number, exists: boolean): { drop: number; forget: boolean } {
  if (old === 0) return { drop: 0, forget: false };
  if (!exists && old === total) return { drop: old, forget: true };
  return { drop: old - 1, forget: false };
}

export const nothingExpired = (): ExpireReflogResult => ({ entriesRemoved: 0, refsForgotten: 0 });
