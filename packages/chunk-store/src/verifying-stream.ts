import type { Hash } from '@armillaria/core';
import type { Hasher } from './hasher.js';

/**
 * Passes `source` through while hashing it; when the source ends, calls `check` with the digest
 * BEFORE signalling completion, so a throwing `check` makes the consumer see a failed stream
 * (a store writing this stream then aborts instead of publishing the object).
 */
export async function* verifyingStream(
  source: AsyncIterable<Uint8Array>,
  hasher: Hasher,
  check: (actual: Hash) => void,
): AsyncGenerator<Uint8Array> {
  const inc = hasher.createIncremental();
  for await (const piece of source) {
    inc.update(piece);
    yield piece;
  }
  check(inc.digest());
}
