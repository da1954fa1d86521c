// Public API of @armillaria/catalog.
export {
  InvalidNameError,
  RefConflictError,
  DuplicateKeyError,
  withTableName,
  PrimaryKeyRequiredError,
  SchemaMismatchError,
  CorruptMetadataError,
  CatalogNotFoundError,
  MergeConflictError,
  AmbiguousRefError,
  RepoExistsError,
  TableExistsError,
  RefExistsError,
} from './errors.js';
// Catalog operations (embedded + remote) and their types.
export { Catalog } from './catalog.js';
export type { CatalogOptions } from './catalog.js';
export type {
  CatalogApi, Rows, AsOf, CreateRepoOptions, RepoInfo, Commit, TreeInput, CommitTreeOptions, CommitChainOptions, ChainCommitInput, RefOptions, TableRefOptions, RestoreTableOptions,
  ReadTableOptions, TableVersion, TableDescription, TableSchema, WriteOptions, CreateTableOptions, NewColumn, CommitResult,
  RefInfo, BranchReflogEntry, LogOptions, LogEntry, DiffOptions, DiffResult, TableDiff, MergeStrategy, MergeOptions, MergeConflict, MergeResult,
} from './catalog-api.js';
export type { CommitRecord, TreeRecord, TreeEntry } from './model/commit.js';
export { sameEntry } from './model/commit.js';
export { assertRepoName, assertTableName, assertTagName, assertBranchName, refNames } from './names.js';
export { parseAsOf, parseRefSpec, isRelativeTime } from './ref-resolver.js';
export { columnTypeToArrow, schemaFromSpec, schemaFromManifest, toArrowTable, keyTableOf, upsertRowsOf, inferSchema, tableToRows, jsonSafe } from './rows.js';
export { columnTypeOf } from './table-format/column-types.js';
export type { InferOptions } from './rows.js';
export type { RefStore, RefEntry, ReflogMeta, ReflogEntry, ReflogValue, ExpireReflogOptions, ExpireReflogResult } from './refs/ref-store.js';
export type {
  TableFormat, ColumnType, ColumnStats, ChunkInfo, Manifest, WriteResult, ReadOptions, ChunkDiff, RowDiff,
  TableLayout, DeltaRef, DeltaRunRef, PageRef, UpsertOptions, KeptCells,
} from './table-format/table-format.js';
export { DELTA_DELETED_COLUMN, DELTA_UNCHANGED_COLUMN } from './table-format/table-format.js';
export { FsRefStore } from './refs/fs-ref-store.js';
export type { FsRefStoreOptions } from './refs/fs-ref-store.js';
export type { FileLockOptions } from './refs/fs-lock.js';
export { assertRefName, MAX_REF_NAME_LENGTH } from './refs/ref-names.js';
export { RedisRefStore } from './refs/redis-ref-store.js';
export type { RedisRefStoreOptions } from './refs/redis-ref-store.js';
export { ObjectStoreRefStore } from './refs/object-store-ref-store.js';
export type { ObjectStoreRefStoreOptions } from './refs/object-store-ref-store.js';
export type { ReflogErrorHandler } from './refs/ref-args.js';
// Catalog service and its remote client.
export { RemoteCatalog } from './remote/remote-catalog.js';
export type { RemoteCatalogOptions } from './remote/remote-catalog.js';
export { buildApp, catalogRoutes } from './server/app.js';
export type { CatalogServiceDeps } from './server/app.js';
export { ARROW_STREAM } from './server/http-args.js';
export { ParquetTableFormat } from './table-format/parquet-table-format.js';
export type { ParquetTableFormatOptions } from './table-format/parquet-table-format.js';
export { DEFAULT_TARGET_CHUNK_ROWS } from './table-format/chunker.js';
export { DeferredWrites } from './table-format/chunk-sink.js';
export { nativeCodec as parquetCodec } from './table-format/native-codec.js';
export type { ParquetCodec, EncodeOptions as ParquetEncodeOptions, EncodedChunk } from './table-format/native-codec.js';
export { plainRows as tableRows } from './table-format/rows.js';
export { catalogFromConfig } from './catalog-from-config.js';
export type { ConfiguredCatalog } from './catalog-from-config.js';
// Garbage collection, retention and verify (maintenance/).
export { collectGarbage } from './maintenance/gc.js';
export type { GcOptions, GcResult, GcProgress, ByteCount } from './maintenance/gc.js';
export { verifyStore } from './maintenance/verify.js';
export type { VerifyOptions, VerifyResult, VerifyProblem, VerifyNeed, VerifyProgress } from './maintenance/verify.js';
export { pendingTxnRoots } from './maintenance/gc-roots.js';
export type { GcRootSource, GcRoot, PendingTxnRecord } from './maintenance/gc-roots.js';
export { ObjectStoreGcState } from './maintenance/gc-state.js';
export type { GcState, GcStateStore } from './maintenance/gc-state.js';
export { HashSet } from './maintenance/hash-set.js';
export { DEFAULT_GRACE_MS, DEFAULT_RETAIN_HISTORY_MS } from './maintenance/retention.js';
export type { RetentionPolicy } from './maintenance/retention.js';
export { maintenanceRoutes } from './server/routes/maintenance.js';
