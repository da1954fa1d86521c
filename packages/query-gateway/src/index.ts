// Public API of @armillaria/query-gateway.
export { QueryEngine, DEFAULT_LIMITS } from './query-engine.js';
export type { QueryEngineOptions, QueryOptions, QueryLimits } from './query-engine.js';
export type { QueryResult, ResultColumn, JsonRow, TableRead } from './results.js';
export { QueryRefusedError, QueryTimeoutError, LimitExceededError } from './errors.js';
export { ChunkCache } from './chunk-cache.js';
export type { ChunkCacheOptions, FetchResult } from './chunk-cache.js';
export { jsonValue } from './json-values.js';
