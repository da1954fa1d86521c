import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@armillaria/core';

const prefixPattern = /^[a-z][a-z0-9-]{0,39}$/;
let counter = 0;

/**
 * A name unique across test files, workers and runs: `<prefix>-<pid base36>-<counter>-<random>`.
 * Lowercase letters, digits and `-` only, at most 63 characters, so it is also a valid S3 bucket
 * name, Redis key prefix, NATS subject token and Armillaria repo/table name.
 * Throws InvalidArgumentError (INVALID_ARGUMENT) when `prefix` does not match /^[a-z][a-z0-9-]{0,39}$/.
 */
export function uniqueName(prefix = 'test'): string {
  if (typeof prefix !== 'string' || !prefixPattern.test(prefix)) {
    throw new InvalidArgumentError(`uniqueName: prefix ${JSON.stringify(prefix)} must match ${prefixPattern}`, { details: { prefix } });
  }
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${randomBytes(4).toString('hex')}`;
}
