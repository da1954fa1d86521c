// Public API of @armillaria/sdk.
export { Armillaria, DEFAULT_REPO } from './armillaria.js';
export { Transaction } from './transaction.js';
export type { StagedWrite } from './transaction.js';
export { publishingCatalog } from './publishing-catalog.js';
export type { PublishCommit } from './publishing-catalog.js';
export type {
  OpenOptions, ConnectOptions, WriteOptions, WriteTableOptions, WriteResult, CompactResult, CommitOnlyResult, RestoreOptions, RestoreResult, QueryOptions, DiffVersionsOptions, VersionDiff,
  CreateBranchOptions, MergeBranchOptions, TransactionOptions, TransactionResult, SubscribeOptions, LogOptions, TagOptions, Rows,
} from './options.js';
export type { QueryResult, QueryColumn, QueryTableRead } from './query-result.js';
// Errors: the same classes and codes in both modes.
export {
  ArmillariaError, ErrorCode, isArmillariaError, InvalidArgumentError, BackendUnavailableError, ChunkCorruptError, ChunkNotFoundError,
} from '@armillaria/core';
export {
  CatalogNotFoundError, MergeConflictError, RefConflictError, RefExistsError, TableExistsError, DuplicateKeyError, PrimaryKeyRequiredError,
  SchemaMismatchError, InvalidNameError, AmbiguousRefError,
} from '@armillaria/catalog';
export { TxnConflictError, TxnAbortedError, TxnNotFoundError, TxnTimeoutError } from '@armillaria/txn-coordinator';
export type { ConflictDetails } from '@armillaria/txn-coordinator';
// Shapes the API returns.
export type { ChangeEvent, RowChange, SubscribeFrom } from '@armillaria/changelog';
export type { DiffResult, TableDiff, LogEntry, MergeResult, MergeConflict, RefInfo, TableVersion, TableDescription, Commit, AsOf } from '@armillaria/catalog';
export type { GcRunOptions } from './backend.js';
export type { GcResult, VerifyResult, VerifyProblem } from '@armillaria/catalog';
