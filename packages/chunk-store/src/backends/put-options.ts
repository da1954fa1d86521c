import { InvalidArgumentError } from '@armillaria/core';
import type { PutOptions } from '../object-store.js';

/** The condition of a put, checked once up front so every backend rejects the same bad options. */
export type PutCondition = { kind: 'none' } | { kind: 'absent' } | { kind: 'etag'; etag: string };

/**
 * `ifNoneMatch` must be exactly '*', `ifMatch` a non-empty string, and not both (no object can be absent and
 * present at once, so the pair is a caller bug, not a lost race).
 */
export function putCondition(opts: PutOptions | undefined): PutCondition {
  const ifNoneMatch = opts?.ifNoneMatch;
  const ifMatch = opts?.ifMatch;
  if (ifNoneMatch !== undefined && ifNoneMatch !== '*') throw new InvalidArgumentError(`ifNoneMatch must be '*', got ${JSON.stringify(ifNoneMatch)}`);
  if (ifMatch !== undefined && (typeof ifMatch !== 'string' || ifMatch.length === 0)) throw new InvalidArgumentError('ifMatch must be a non-empty etag');
  if (ifNoneMatch !== undefined && ifMatch !== undefined) throw new InvalidArgumentError('ifNoneMatch and ifMatch cannot be combined');
  if (ifNoneMatch === '*') return { kind: 'absent' };
  if (ifMatch !== undefined) return { kind: 'etag', etag: ifMatch };
  return { kind: 'none' };
}

export function assertBody(body: unknown): asserts body is Uint8Array {
  if (!(body instanceof Uint8Array)) throw new InvalidArgumentError('body must be a Uint8Array');
}

export function assertStreamBody(body: unknown): asserts body is AsyncIterable<Uint8Array> {
  if (body === null || typeof body !== 'object' || typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function') {
    throw new InvalidArgumentError('body must be an AsyncIterable<Uint8Array>');
  }
}

/** Stream pieces must be bytes; a string slipping through would be stored with the wrong encoding. */
export function assertPiece(piece: unknown): asserts piece is Uint8Array {
  if (!(piece instanceof Uint8Array)) throw new InvalidArgumentError('stream body pieces must be Uint8Array');
}
