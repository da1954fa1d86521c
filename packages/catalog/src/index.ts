// Public API of @armillaria/catalog.
export {
  InvalidNameError,
  RefConflictError,
  DuplicateKeyError,
  PrimaryKeyRequiredError,
  SchemaMismatchError,
  CorruptMetadataError,
  CatalogNotFoundError,
  MergeConflictError,
} from './errors.js';
export type { RefStore, RefEntry, ReflogMeta, ReflogEntry } from './refs/ref-store.js';
export type {
  TableFormat, ColumnType, ColumnStats, ChunkInfo, Manifest, WriteResult, ReadOptions, ChunkDiff, RowDiff,
} from './table-format/table-format.js';
export { FsRefStore } from './refs/fs-ref-store.js';
export type { FsRefStoreOptions } from './refs/fs-ref-store.js';
export type { FileLockOptions } from './refs/fs-lock.js';
export { assertRefName, MAX_REF_NAME_LENGTH } from './refs/ref-names.js';
export { RedisRefStore } from './refs/redis-ref-store.js';
export type { RedisRefStoreOptions } from './refs/redis-ref-store.js';
