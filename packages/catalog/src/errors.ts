import { ArmillariaError, ErrorCode } from '@armillaria/core';

/** Errors of the catalog. Codes live in @armillaria/core so every package and client shares them. */

export class InvalidNameError extends ArmillariaError {
  constructor(kind: string, name: unknown, rule: string) {
    super(ErrorCode.InvalidName, `invalid ${kind} name ${JSON.stringify(name)}: ${rule}`, { details: { kind, name: String(name) } });
  }
}

export class RefConflictError extends ArmillariaError {
  constructor(readonly ref: string, readonly expected: string | null, readonly actual: string | null) {
    super(ErrorCode.RefConflict, `ref ${ref} moved: expected ${expected ?? '(absent)'}, found ${actual ?? '(absent)'}`, {
      details: { ref, expected, actual },
    });
  }
}

/**
 * A primary key twice: the rows given repeat it (`repeated`), or an insert-only change (append) gives a key
 * the table holds already (`exists`).
 */
export class DuplicateKeyError extends ArmillariaError {
  constructor(readonly table: string, readonly key: unknown[], readonly reason: 'repeated' | 'exists' = 'exists', options?: ErrorOptions) {
    const shown = JSON.stringify(key);
    super(ErrorCode.DuplicateKey, reason === 'repeated'
      ? `duplicate primary key ${shown}: the rows for ${table} hold it more than once`
      : `duplicate primary key ${shown}: ${table} holds it already (append only inserts new keys; upsert replaces rows by key)`, { ...options, details: { table, key, reason } });
  }
}

export class PrimaryKeyRequiredError extends ArmillariaError {
  constructor(table: string, operation: string) {
    super(ErrorCode.PrimaryKeyRequired, `${operation} needs a primary key, and table ${table} has none`, { details: { table, operation } });
  }
}

export class SchemaMismatchError extends ArmillariaError {
  constructor(message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(ErrorCode.SchemaMismatch, message, details ? { ...options, details } : options);
  }
}

/**
 * The table format names a table by its manifest hash (or "new table"): it never learns the name. Callers
 * that know it rethrow the format's row errors with it, so a user reads `users`, not a hash.
 */
export function withTableName(err: unknown, table: string): unknown {
  if (err instanceof DuplicateKeyError && err.table !== table) return new DuplicateKeyError(table, err.key, err.reason, { cause: err });
  if (err instanceof SchemaMismatchError && err.details?.table === undefined) {
    return new SchemaMismatchError(`table ${table}: ${err.message}`, { ...err.details, table }, { cause: err });
  }
  return err;
}

export class CorruptMetadataError extends ArmillariaError {
  constructor(what: string, hash: string, reason: string) {
    super(ErrorCode.CorruptMetadata, `${what} ${hash} is not valid: ${reason}`, { details: { what, hash } });
  }
}

/** A typed not-found for the catalog's named things (table, branch, tag, ref, commit, version, repo). */
export class CatalogNotFoundError extends ArmillariaError {
  constructor(
    code: typeof ErrorCode.TableNotFound | typeof ErrorCode.BranchNotFound | typeof ErrorCode.TagNotFound | typeof ErrorCode.RefNotFound
      | typeof ErrorCode.CommitNotFound | typeof ErrorCode.VersionNotFound | typeof ErrorCode.RepoNotFound,
    message: string,
    details: Record<string, unknown>,
  ) {
    super(code, message, { details });
  }
}

export class MergeConflictError extends ArmillariaError {
  constructor(message: string, readonly conflicts: ReadonlyArray<Record<string, unknown>>) {
    super(ErrorCode.MergeConflict, message, { details: { conflicts } });
  }
}

export class AmbiguousRefError extends ArmillariaError {
  constructor(repo: string, prefix: string, candidates: string[]) {
    super(ErrorCode.AmbiguousRef, `commit prefix ${prefix} matches ${candidates.length} commits in repo ${repo}`, { details: { repo, prefix, candidates } });
  }
}

/** Creating a repo that exists: the repo's ref lost its create-only compare-and-swap. */
export class RepoExistsError extends ArmillariaError {
  constructor(repo: string) {
    super(ErrorCode.RefConflict, `repo ${repo} already exists`, { details: { repo } });
  }
}

export class TableExistsError extends ArmillariaError {
  constructor(repo: string, table: string) {
    super(ErrorCode.TableExists, `table ${table} already exists in repo ${repo}`, { details: { repo, table } });
  }
}

/** A branch or tag that already exists (tags never move; branches move only by commits and merges). */
export class RefExistsError extends ArmillariaError {
  constructor(kind: 'branch' | 'tag', repo: string, name: string) {
    super(kind === 'branch' ? ErrorCode.BranchExists : ErrorCode.TagExists, `${kind} ${name} already exists in repo ${repo}`, {
      details: { repo, [kind]: name },
    });
  }
}
