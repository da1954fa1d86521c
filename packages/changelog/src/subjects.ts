import { InvalidArgumentError } from '@armillaria/core';

/** Default subject prefix: subjects are `armillaria.<repo>.<branch>.<table>`. */
export const DEFAULT_SUBJECT_PREFIX = 'armillaria';

/**
 * Percent-encodes one subject token. NATS splits subjects on `.`, treats `*` and `>` as wildcards and
 * forbids whitespace, and branch names hold `/`, so everything outside `[A-Za-z0-9_-]` becomes `%XX`
 * (UTF-8 bytes, upper-case hex). The mapping is injective, so two names never share a subject.
 */
export function encodeSubjectToken(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('subject token must be a non-empty string');
  let out = '';
  for (const byte of new TextEncoder().encode(name)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of `encodeSubjectToken`. */
export function decodeSubjectToken(token: string): string {
  return decodeURIComponent(token);
}

/** `<prefix>.<repo>.<branch>.<table>`, each token encoded; `table` omitted gives the branch wildcard `.>`. */
export function changeSubject(prefix: string, repo: string, branch: string, table?: string): string {
  const base = `${prefix}.${encodeSubjectToken(repo)}.${encodeSubjectToken(branch)}`;
  return table === undefined ? `${base}.>` : `${base}.${encodeSubjectToken(table)}`;
}
