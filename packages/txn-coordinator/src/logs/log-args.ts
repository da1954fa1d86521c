import { InvalidArgumentError } from '@armillaria/core';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../txn-log.js';

/** Transaction ids reach file names and Redis keys: one safe segment only. */
const TXN_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function assertTxnId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !TXN_ID.test(id)) {
    throw new InvalidArgumentError(`invalid transaction id ${JSON.stringify(String(id)).slice(0, 140)}: expected 1-128 characters from [A-Za-z0-9_-]`, {
      details: { field: 'txnId' },
    });
  }
}

export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new InvalidArgumentError(`idempotency key must be a string of 1-${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, { details: { field: 'idempotencyKey' } });
  }
}
