import { InvalidArgumentError } from '@armillaria/core';

/** Longest key in UTF-8 bytes (the S3 limit), applied on every backend. */
export const MAX_KEY_BYTES = 1024;
/** Longest key segment in UTF-8 bytes (the usual file-name limit), applied on every backend. */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Rejects a key before it reaches a path or a request: not a string, empty, a leading '/', an empty segment
 * ('a//b' or a trailing '/'), a '.' or '..' segment, a backslash, NUL, over 1024 UTF-8 bytes, or a segment over
 * 255 bytes. The rules are the same on every backend, so a key that works in memory also works on disk (where
 * it cannot escape the root or alias another key) and on S3.
 */
export function assertObjectKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidKey(key, 'must be a string');
  if (key.length === 0) throw invalidKey(key, 'must not be empty');
  checkCommon(key, 'key');
  for (const segment of key.split('/')) checkSegment(key, segment, 'key');
}

/**
 * A list prefix is a key fragment: '' lists everything, a trailing '/' is allowed, and the last (partial)
 * segment is only matched against names, never joined to a path. Every complete segment obeys the key rules.
 */
export function assertListPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw invalidKey(prefix, 'must be a string', 'prefix');
  if (prefix === '') return;
  checkCommon(prefix, 'prefix');
  const segments = prefix.split('/');
  segments.pop();
  for (const segment of segments) checkSegment(prefix, segment, 'prefix');
}

/** `startAfter` is only compared with keys, never used as a path, so any string will do. */
export function assertStartAfter(startAfter: unknown): asserts startAfter is string | undefined {
  if (startAfter !== undefined && typeof startAfter !== 'string') throw new InvalidArgumentError('startAfter must be a string');
}

function checkCommon(key: string, what: 'key' | 'prefix'): void {
  if (key.startsWith('/')) throw invalidKey(key, "must not start with '/'", what);
  if (key.includes('\\')) throw invalidKey(key, 'must not contain a backslash', what);
  if (key.includes('\0')) throw invalidKey(key, 'must not contain NUL', what);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalidKey(key, `must be at most ${MAX_KEY_BYTES} UTF-8 bytes`, what);
}

function checkSegment(key: string, segment: string, what: 'key' | 'prefix'): void {
  if (segment === '') throw invalidKey(key, 'must not contain an empty segment', what);
  if (segment === '.' || segment === '..') throw invalidKey(key, "must not contain '.' or '..' segments", what);
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) throw invalidKey(key, `segments must be at most ${MAX_SEGMENT_BYTES} UTF-8 bytes`, what);
}

export function invalidKey(key: unknown, why: string, what: 'key' | 'prefix' = 'key'): InvalidArgumentError {
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 120 ? `${key.slice(0, 120)}…` : key) : typeof key;
  return new InvalidArgumentError(`invalid object ${what} ${shown}: ${why}`, { details: { reason: why } });
}

/** S3's order: keys compared as UTF-8 bytes (JS `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
