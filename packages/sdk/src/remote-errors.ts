import { ArmillariaError, ErrorCode } from '@armillaria/core';
import { CatalogNotFoundError, MergeConflictError } from '@armillaria/catalog';
import { TxnAbortedError, TxnConflictError, TxnNotFoundError, TxnTimeoutError, type ConflictDetails } from '@armillaria/txn-coordinator';

const NOT_FOUND = new Set<string>([
  ErrorCode.TableNotFound, ErrorCode.BranchNotFound, ErrorCode.TagNotFound, ErrorCode.RefNotFound,
  ErrorCode.CommitNotFound, ErrorCode.VersionNotFound, ErrorCode.RepoNotFound,
]);

/**
 * A remote error (a plain ArmillariaError rebuilt from `{code, message, details}`) as the class the
 * embedded library throws for that code, so `instanceof` and `code` both match across modes.
 * The message is kept as the server wrote it.
 */
export function typedRemoteError(err: unknown): unknown {
  if (!(err instanceof ArmillariaError) || err.constructor !== ArmillariaError) return err;
  const d = (err.details ?? {}) as Record<string, unknown>;
  const txnId = typeof d.txnId === 'string' ? d.txnId : '';
  let typed: ArmillariaError | undefined;
  switch (err.code) {
    case ErrorCode.TxnConflict:
      typed = new TxnConflictError(txnId, { table: String(d.table ?? ''), kind: d.kind === 'keys' ? 'keys' : 'table', reason: String(d.reason ?? ''), ...(Array.isArray(d.keys) ? { keys: d.keys as ConflictDetails['keys'] } : {}), ...(typeof d.head === 'string' ? { head: d.head } : {}) });
      break;
    case ErrorCode.TxnNotFound:
      typed = new TxnNotFoundError(txnId);
      break;
    case ErrorCode.TxnAborted:
      typed = new TxnAbortedError(txnId, String(d.reason ?? ''));
      break;
    case ErrorCode.TxnTimeout:
      typed = new TxnTimeoutError(txnId, Number(d.idleMs ?? 0));
      break;
    case ErrorCode.MergeConflict:
      typed = new MergeConflictError(err.message, Array.isArray(d.conflicts) ? (d.conflicts as Array<Record<string, unknown>>) : []);
      break;
    default:
      if (NOT_FOUND.has(err.code)) typed = new CatalogNotFoundError(err.code as typeof ErrorCode.TableNotFound, err.message, { ...d });
  }
  if (!typed) return err;
  Object.defineProperty(typed, 'message', { value: err.message });
  return typed;
}

/** Runs `fn`, rethrowing remote errors as their typed classes. */
export async function remoteCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw typedRemoteError(err);
  }
}
