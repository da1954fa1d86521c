import { InvalidArgumentError } from '@armillaria/core';
import { InvalidNameError } from '../errors.js';

/** Longest ref name accepted, in characters (all allowed characters are ASCII, so also bytes). */
export const MAX_REF_NAME_LENGTH = 255;

const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;
const PREFIX_CHARS_RE = /^[A-Za-z0-9._/-]*$/;

/**
 * Throws InvalidNameError (INVALID_NAME) unless `name` is a valid ref name: 1..255 characters,
 * slash-separated segments of [A-Za-z0-9._-], no empty segment (so no leading, trailing or double `/`),
 * no `.` segment and no `..` anywhere. Every store calls this before any I/O: a valid name is safe
 * to use as a path below a root directory, as a Redis key part and as an object key part.
 */
export function assertRefName(name: unknown): asserts name is string {
  const fail = (rule: string): never => {
    throw new InvalidNameError('ref', typeof name === 'string' && name.length > 300 ? `${name.slice(0, 300)}…` : name, rule);
  };
  if (typeof name !== 'string') fail('a ref name must be a string');
  const s = name as string;
  if (s.length === 0) fail('a ref name must not be empty');
  if (s.length > MAX_REF_NAME_LENGTH) fail(`a ref name must be at most ${MAX_REF_NAME_LENGTH} characters`);
  if (s.startsWith('/') || s.endsWith('/')) fail('a ref name must not start or end with "/"');
  if (s.includes('..')) fail('a ref name must not contain ".."');
  for (const segment of s.split('/')) {
    if (segment.length === 0) fail('a ref name must not contain an empty segment ("//")');
    if (segment === '.') fail('a ref name must not contain a "." segment');
    if (!SEGMENT_RE.test(segment)) fail('each segment must match [A-Za-z0-9._-]+');
  }
}

/**
 * Checks a `list` prefix. Prefixes are plain string prefixes of names (`repos/r/branches/ma` matches
 * `repos/r/branches/main`). Returns false when no valid name can start with `prefix` (the store then
 * answers an empty list without touching storage); throws InvalidArgumentError for a non-string.
 */
export function isFeasibleRefPrefix(prefix: unknown): prefix is string {
  if (typeof prefix !== 'string') throw new InvalidArgumentError(`a ref prefix must be a string, got ${typeof prefix}`);
  if (prefix.length > MAX_REF_NAME_LENGTH || !PREFIX_CHARS_RE.test(prefix)) return false;
  if (prefix.startsWith('/') || prefix.includes('..') || prefix.includes('//')) return false;
  // Every complete segment (all but the last, which may be partial) must itself be valid.
  const complete = prefix.split('/').slice(0, -1);
  return complete.every((segment) => segment !== '.');
}

/** `a/b/ma` -> { dir: ['a', 'b'], partial: 'ma' }: the subtree a prefix search needs to visit. */
export function splitRefPrefix(prefix: string): { dir: string[]; partial: string } {
  const parts = prefix.split('/');
  const partial = parts.pop() ?? '';
  return { dir: parts, partial };
}
