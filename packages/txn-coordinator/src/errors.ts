import { ArmillariaError, ErrorCode } from '@armillaria/core';

/** Errors of the transaction coordinator. Codes live in @armillaria/core so remote clients rebuild them. */

/** Which table (and, for key-level conflicts, which keys) collided with which concurrent commit. */
export interface ConflictDetails {
  table: string;
  /** `table`: the table as a whole (overwrite, drop, create, schema change, read set); `keys`: overlapping primary keys. */
  kind: 'table' | 'keys';
  reason: string;
  /** Overlapping primary keys (JSON-safe), at most 100. */
  keys?: unknown[][];
  /** The head the transaction was validated against. */
  head?: string;
}

export class TxnConflictError extends ArmillariaError {
  constructor(readonly txnId: string, readonly conflict: ConflictDetails) {
    const keys = conflict.keys?.length ? ` on keys ${JSON.stringify(conflict.keys.slice(0, 5))}${conflict.keys.length > 5 ? '…' : ''}` : '';
    super(ErrorCode.TxnConflict, `transaction ${txnId} conflicts on table ${conflict.table}${keys}: ${conflict.reason}`, {
      details: { txnId, ...conflict },
    });
  }
}

export class TxnNotFoundError extends ArmillariaError {
  constructor(txnId: string) {
    super(ErrorCode.TxnNotFound, `no transaction ${JSON.stringify(txnId)} (unknown, or finished and forgotten)`, { details: { txnId } });
  }
}

export class TxnAbortedError extends ArmillariaError {
  constructor(txnId: string, reason: string) {
    super(ErrorCode.TxnAborted, `transaction ${txnId} was aborted: ${reason}`, { details: { txnId, reason } });
  }
}

export class TxnTimeoutError extends ArmillariaError {
  constructor(txnId: string, idleMs: number) {
    super(ErrorCode.TxnTimeout, `transaction ${txnId} was idle for more than ${idleMs} ms and was aborted`, { details: { txnId, idleMs } });
  }
}
