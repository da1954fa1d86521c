// Public API of @armillaria/txn-coordinator.
export { TxnCoordinator } from './txn-coordinator.js';
export type { TxnCoordinatorOptions } from './txn-coordinator.js';
export type { RecoveryReport } from './commit-protocol.js';
export type {
  TxnApi, Isolation, Rows, TableSchema, BeginOptions, TxnInfo, TxnReadOptions, CreateTableInTxn, StageResult, CommitOptions,
  TxnCommitResult, TxnState, TxnStatus,
} from './txn-api.js';
export { TxnConflictError, TxnNotFoundError, TxnAbortedError, TxnTimeoutError } from './errors.js';
export type { ConflictDetails } from './errors.js';
export type { TxnLog, PutRecordOptions } from './txn-log.js';
export { MAX_IDEMPOTENCY_KEY_LENGTH } from './txn-log.js';
export { TXN_RECORD_VERSION, fillEvents } from './txn-record.js';
export type { TxnRecord, TxnRecordState, EventDraft } from './txn-record.js';
export { FsTxnLog } from './logs/fs-txn-log.js';
export type { FsTxnLogOptions } from './logs/fs-txn-log.js';
export { RedisTxnLog } from './logs/redis-txn-log.js';
export type { RedisTxnLogOptions } from './logs/redis-txn-log.js';
export type { CatalogPort, CommitInfo, TreeSnapshot, TreeEntry } from './catalog-port.js';
export { FAULT_POINTS } from './faults.js';
export type { FaultPoint } from './faults.js';
export { RemoteTxnClient } from './remote-txn-client.js';
export type { RemoteTxnClientOptions } from './remote-txn-client.js';
export { buildApp } from './server/app.js';
export type { TxnServiceDeps } from './server/app.js';
export { txnRoutes, WRITE_OPS } from './server/routes/txn-routes.js';
export type { TxnRoutesOptions, WriteBody, WriteOp } from './server/routes/txn-routes.js';
