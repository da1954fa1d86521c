// Public API of @armillaria/query-gateway.
export { QueryEngine, DEFAULT_LIMITS } from './query-engine.js';
export type { QueryEngineOptions, QueryOptions, QueryLimits } from './query-engine.js';
export type { QueryResult, QueryTimings, ResultColumn, JsonRow, TableRead } from './results.js';
export { QueryRefusedError, QueryTimeoutError, LimitExceededError } from './errors.js';
export { ChunkCache, DEFAULT_CACHE_MAX_BYTES } from './chunk-cache.js';
export { DEFAULT_COMPACT_MIN_CHUNKS } from './compactor.js';
export type { CompactionOptions } from './compactor.js';
export type { ChunkCacheOptions, ChunkCacheStats, CacheLease, FetchResult } from './chunk-cache.js';
export { jsonValue } from './json-values.js';
// The gateway app (routes of every service behind tokens and protected branches, plus SQL and docs).
export { buildApp, gatewayRoutes } from './server/app.js';
export type { GatewayDeps } from './server/app.js';
export { ROLES, TokenRegistry, isProtected } from './server/access.js';
export type { Role, ApiToken, AuthOptions, ProtectedBranches, Principal } from './server/access.js';
export { ROUTES } from './server/route-table.js';
export type { RouteRule } from './server/route-table.js';
export { openApiDocument } from './server/openapi.js';
export { ARROW_STREAM } from './server/routes/sql.js';
export { loadGatewayConfig, gatewayConfigKeys } from './server/gateway-config.js';
export type { GatewayConfig } from './server/gateway-config.js';
export { openGatewayDeps } from './server/gateway-deps.js';
export type { OpenedGateway } from './server/gateway-deps.js';
