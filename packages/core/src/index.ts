export {
  ErrorCode,
  ArmillariaError,
  InvalidArgumentError,
  InvalidHashError,
  ObjectNotFoundError,
  PreconditionFailedError,
  ChunkNotFoundError,
  ChunkCorruptError,
  HashMismatchError,
  BackendUnavailableError,
  errorFromBody,
  isErrorCode,
  isArmillariaError,
} from './errors.js';
export { isHash, assertHash, chunkKey, hashFromChunkKey, bytesToHex } from './hash.js';
export type { Hash } from './hash.js';
export { canonicalJson, canonicalJsonBytes, parseJsonBytes } from './canonical-json.js';
export { mapLimit, Semaphore, sleep } from './concurrency.js';
export { ByteLru } from './byte-lru.js';
export { httpStatusByCode, errorReplyBody } from './http-status.js';
export type { ErrorReplyBody } from './http-status.js';
export { HttpClient } from './http-client.js';
export type { HttpClientOptions, RequestOptions } from './http-client.js';
export { loadConfig, configKeys, configReference } from './config.js';
export type { ArmillariaConfig } from './config.js';
export { currentRequestId, runWithRequestId, isValidRequestId } from './request-context.js';
export type { RequestContext } from './request-context.js';
export { metricsRegistry, collectProcessMetrics, metricCounter, metricGauge, metricHistogram } from './metrics.js';
export { serviceMetrics, recordCacheLookup } from './service-metrics.js';
export { syncDir, makeParents } from './durable-fs.js';
