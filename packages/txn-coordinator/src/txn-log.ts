import type { TxnRecord } from './txn-record.js';

/**
 * Durable transaction records and idempotency keys. Implementations: FsTxnLog (one fsync'd file per
 * record, replaced by atomic rename; safe across processes on one machine) and RedisTxnLog (ioredis,
 * MULTI/Lua). Every implementation passes `test/txn-log.contract.ts`.
 */
export interface TxnLog {
  /**
   * Stores `record` (replacing the previous record of `record.id`), durably before resolving unless
   * `durable: false`: then a crash may lose it, and the last durable record of the id stands instead
   * (never a torn one).
   * Records not in a final state (PREPARED, COMMITTED) are listed by `pending` until replaced by a
   * final one (DONE, ABORTED). Throws BackendUnavailableError when the backend cannot be reached.
   */
  put(record: TxnRecord, opts?: PutRecordOptions): Promise<void>;
  /** The last record stored for `id`, or undefined. */
  get(id: string): Promise<TxnRecord | undefined>;
  /** Every PREPARED or COMMITTED record (what recovery must finish), in no particular order. */
  pending(): Promise<TxnRecord[]>;
  /**
   * Claims idempotency key `key` for transaction `txnId`, atomically across processes:
   * - unclaimed: `txnId` becomes the owner;
   * - owned by `supersede` (the caller saw that owner aborted): `txnId` replaces it;
   * - otherwise the owner stays.
   * Returns the owner after the call (compare with `txnId` to know whether the claim won).
   * INVALID_ARGUMENT for an empty key or one over 512 characters.
   */
  claimKey(key: string, txnId: string, supersede?: string): Promise<string>;
  /** The current owner of `key`, or undefined. */
  keyOwner(key: string): Promise<string | undefined>;
  /** Reachable? Throws BackendUnavailableError. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

/**
 * Only PREPARED must survive a crash (with the ref it decides every outcome); COMMITTED and ABORTED
 * records lost in a crash are re-derived by recovery from PREPARED and the branch.
 */
export const NOT_DURABLE = { durable: false } as const;

export interface PutRecordOptions {
  /** Default true. False skips fsync where the backend has one (the coordinator uses it where an older durable record suffices for recovery). */
  durable?: boolean;
}
