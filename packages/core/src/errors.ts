/**
 * One error base and one code list for every Armillaria package.
 * Codes are API: add and deprecate, never rename. Every code is documented in
 * packages/core/README.md (a test checks it) and mapped to an HTTP status in `http-status.ts`.
 */
export const ErrorCode = {
  // generic
  InvalidArgument: 'INVALID_ARGUMENT',
  NotFound: 'NOT_FOUND',
  Internal: 'INTERNAL',
  BackendUnavailable: 'BACKEND_UNAVAILABLE',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  // objects and chunks
  InvalidHash: 'INVALID_HASH',
  ObjectNotFound: 'OBJECT_NOT_FOUND',
  PreconditionFailed: 'PRECONDITION_FAILED',
  ChunkNotFound: 'CHUNK_NOT_FOUND',
  ChunkCorrupt: 'CHUNK_CORRUPT',
  HashMismatch: 'HASH_MISMATCH',
  // catalog
  InvalidName: 'INVALID_NAME',
  RepoNotFound: 'REPO_NOT_FOUND',
  TableNotFound: 'TABLE_NOT_FOUND',
  TableExists: 'TABLE_EXISTS',
  BranchNotFound: 'BRANCH_NOT_FOUND',
  BranchExists: 'BRANCH_EXISTS',
  TagNotFound: 'TAG_NOT_FOUND',
  TagExists: 'TAG_EXISTS',
  RefNotFound: 'REF_NOT_FOUND',
  AmbiguousRef: 'AMBIGUOUS_REF',
  RefConflict: 'REF_CONFLICT',
  CommitNotFound: 'COMMIT_NOT_FOUND',
  VersionNotFound: 'VERSION_NOT_FOUND',
  SchemaMismatch: 'SCHEMA_MISMATCH',
  PrimaryKeyRequired: 'PRIMARY_KEY_REQUIRED',
  DuplicateKey: 'DUPLICATE_KEY',
  MergeConflict: 'MERGE_CONFLICT',
  CorruptMetadata: 'CORRUPT_METADATA',
  // transactions
  TxnConflict: 'TXN_CONFLICT',
  TxnNotFound: 'TXN_NOT_FOUND',
  TxnAborted: 'TXN_ABORTED',
  TxnTimeout: 'TXN_TIMEOUT',
  // queries and access
  QueryRefused: 'QUERY_REFUSED',
  QueryTimeout: 'QUERY_TIMEOUT',
  LimitExceeded: 'LIMIT_EXCEEDED',
  BranchProtected: 'BRANCH_PROTECTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const knownCodes = new Set<string>(Object.values(ErrorCode));
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && knownCodes.has(value);
}

/** Base of every error Armillaria throws on purpose. `details` is JSON-safe context (hash, table, keys…). */
export class ArmillariaError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { details?: Record<string, unknown> }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: { ...this.details } } : { code: this.code, message: this.message };
  }
}

export class InvalidArgumentError extends ArmillariaError {
  constructor(message: string, options?: ErrorOptions & { details?: Record<string, unknown> }) {
    super(ErrorCode.InvalidArgument, message, options);
  }
}

export class InvalidHashError extends ArmillariaError {
  constructor(value: unknown) {
    const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : typeof value;
    super(ErrorCode.InvalidHash, `invalid hash ${shown}: expected 64 lowercase hex characters (BLAKE3-256)`);
  }
}

export class ObjectNotFoundError extends ArmillariaError {
  constructor(readonly key: string) {
    super(ErrorCode.ObjectNotFound, `object not found: ${key}`, { details: { key } });
  }
}

export class PreconditionFailedError extends ArmillariaError {
  constructor(readonly key: string, message = `precondition failed for ${key}`) {
    super(ErrorCode.PreconditionFailed, message, { details: { key } });
  }
}

export class ChunkNotFoundError extends ArmillariaError {
  constructor(readonly hash: string) {
    super(ErrorCode.ChunkNotFound, `chunk not found: ${hash}`, { details: { hash } });
  }
}

export class ChunkCorruptError extends ArmillariaError {
  /** `actual`: the hash the stored bytes have; `why` replaces "its bytes hash to <actual>" in the message. */
  constructor(readonly hash: string, readonly actual: string, why?: string) {
    super(ErrorCode.ChunkCorrupt, `chunk ${hash} is corrupt: ${why ?? `its bytes hash to ${actual}`}`, { details: { hash, actual } });
  }
}

export class HashMismatchError extends ArmillariaError {
  constructor(readonly expected: string, readonly actual: string) {
    super(ErrorCode.HashMismatch, `uploaded bytes hash to ${actual}, not the claimed ${expected}`, { details: { expected, actual } });
  }
}

export class BackendUnavailableError extends ArmillariaError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.BackendUnavailable, message, options);
  }
}

/** Rebuilds a typed error from a `{code, message, details}` body (remote clients use this). */
export function errorFromBody(body: unknown, fallbackMessage: string): ArmillariaError {
  if (body && typeof body === 'object') {
    const b = body as { code?: unknown; message?: unknown; details?: unknown };
    if (isErrorCode(b.code)) {
      const details = b.details && typeof b.details === 'object' ? (b.details as Record<string, unknown>) : undefined;
      return new ArmillariaError(b.code, typeof b.message === 'string' ? b.message : fallbackMessage, details ? { details } : undefined);
    }
  }
  return new ArmillariaError(ErrorCode.Internal, fallbackMessage);
}

export function isArmillariaError(err: unknown, code?: ErrorCode): err is ArmillariaError {
  return err instanceof ArmillariaError && (code === undefined || err.code === code);
}
