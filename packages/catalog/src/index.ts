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
