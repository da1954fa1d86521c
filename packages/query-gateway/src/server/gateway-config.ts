import { InvalidArgumentError } from '@armillaria/core';
import { validateProtectedBranches, type ApiToken, type ProtectedBranches } from './access.js';
import type { QueryLimits } from '../query-engine.js';

/** Gateway settings beyond the shared config (`loadConfig`), all from `ARMILLARIA_GATEWAY_*` / `ARMILLARIA_QUERY_*`. */
export interface GatewayConfig {
  /** JSON list of `{token, name?, repos: {repo|'*': role}}`; absent: auth off. */
  tokens?: ApiToken[];
  protectedBranches: ProtectedBranches;
  /** Distributed gateway-only mode: where the services are (all three, or none for in-process services). */
  catalogUrl?: string;
  chunksUrl?: string;
  txnUrl?: string;
  /** Token the gateway presents to the services. */
  serviceToken?: string;
  limits: Partial<QueryLimits>;
  cacheDir?: string;
  /** Size bound of the chunk cache in bytes; absent: the engine's default (10 GiB). */
  cacheMaxBytes?: number;
  /** Per-version compaction of tables with at least this many chunks (and of versions with a delta); absent: the engine's default (32); 0: off. */
  compactMinChunks?: number;
}

export const gatewayConfigKeys = [
  ['ARMILLARIA_GATEWAY_TOKENS', 'JSON list of API tokens [{token, name?, repos: {"<repo>"|"*": "read"|"write"|"admin"}}]; unset: no auth'],
  ['ARMILLARIA_GATEWAY_PROTECTED_BRANCHES', 'JSON object {"<repo>"|"*": ["main", "release/*"]}'],
  ['ARMILLARIA_CATALOG_URL', 'catalog service URL: set with the two below to run only the gateway in front of remote services'],
  ['ARMILLARIA_CHUNKS_URL', 'chunk-store service URL'],
  ['ARMILLARIA_TXN_URL', 'txn-coordinator service URL'],
  ['ARMILLARIA_SERVICE_TOKEN', 'bearer token the gateway sends to the services (secret)'],
  ['ARMILLARIA_QUERY_TIMEOUT_MS', 'query time limit (default 30000)'],
  ['ARMILLARIA_QUERY_MAX_ROWS', 'most rows per result (default 1000000)'],
  ['ARMILLARIA_QUERY_MAX_BYTES', 'most bytes per result, as JSON (default 268435456)'],
  ['ARMILLARIA_QUERY_CACHE_DIR', 'chunk cache directory (default <dataDir>/query-cache); one gateway per directory'],
  ['ARMILLARIA_QUERY_CACHE_MAX_BYTES', 'size bound of the chunk cache in bytes (default 10737418240 = 10 GiB); least recently used files past it are deleted, never one a running query reads'],
  ['ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS', 'compact table versions of at least this many chunks, and every version with a merge-on-read delta, into one cached file (built after the first full scan, one at a time, read by scans keeping at least half of the rows) (default 32; 0: off)'],
] as const;

function json(env: Record<string, string | undefined>, key: string): unknown {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    // The value may hold secrets (tokens): name the key, never echo the value.
    throw new InvalidArgumentError(`config ${key}: not valid JSON`, { details: { key } });
  }
}

function positive(env: Record<string, string | undefined>, key: string, opts: { zero?: boolean } = {}): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || (n === 0 && !opts.zero)) {
    throw new InvalidArgumentError(`config ${key}=${JSON.stringify(raw)}: expected a ${opts.zero ? 'non-negative' : 'positive'} integer`, { details: { key } });
  }
  return n;
}

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const tokens = json(env, 'ARMILLARIA_GATEWAY_TOKENS');
  if (tokens !== undefined && !Array.isArray(tokens)) throw new InvalidArgumentError('config ARMILLARIA_GATEWAY_TOKENS: expected a JSON list', { details: { key: 'ARMILLARIA_GATEWAY_TOKENS' } });
  let protectedBranches: ProtectedBranches;
  try {
    protectedBranches = validateProtectedBranches(json(env, 'ARMILLARIA_GATEWAY_PROTECTED_BRANCHES'));
  } catch (err) {
    throw new InvalidArgumentError(`config ARMILLARIA_GATEWAY_PROTECTED_BRANCHES: ${(err as Error).message}`, { details: { key: 'ARMILLARIA_GATEWAY_PROTECTED_BRANCHES' } });
  }
  const urls = { catalogUrl: env.ARMILLARIA_CATALOG_URL, chunksUrl: env.ARMILLARIA_CHUNKS_URL, txnUrl: env.ARMILLARIA_TXN_URL };
  const given = Object.values(urls).filter(Boolean).length;
  if (given !== 0 && given !== 3) {
    throw new InvalidArgumentError('config ARMILLARIA_CATALOG_URL, ARMILLARIA_CHUNKS_URL and ARMILLARIA_TXN_URL go together (all three for a gateway in front of remote services)', { details: { key: 'ARMILLARIA_CATALOG_URL' } });
  }
  const limits: Partial<QueryLimits> = {};
  const t = positive(env, 'ARMILLARIA_QUERY_TIMEOUT_MS');
  const r = positive(env, 'ARMILLARIA_QUERY_MAX_ROWS');
  const b = positive(env, 'ARMILLARIA_QUERY_MAX_BYTES');
  if (t !== undefined) limits.timeoutMs = t;
  if (r !== undefined) limits.maxRows = r;
  if (b !== undefined) limits.maxBytes = b;
  const compactMinChunks = positive(env, 'ARMILLARIA_QUERY_COMPACT_MIN_CHUNKS', { zero: true });
  const cacheMaxBytes = positive(env, 'ARMILLARIA_QUERY_CACHE_MAX_BYTES');
  return {
    ...(tokens !== undefined ? { tokens: tokens as ApiToken[] } : {}),
    protectedBranches,
    ...(given === 3 ? urls as Required<typeof urls> : {}),
    ...(env.ARMILLARIA_SERVICE_TOKEN ? { serviceToken: env.ARMILLARIA_SERVICE_TOKEN } : {}),
    limits,
    ...(env.ARMILLARIA_QUERY_CACHE_DIR ? { cacheDir: env.ARMILLARIA_QUERY_CACHE_DIR } : {}),
    ...(cacheMaxBytes !== undefined ? { cacheMaxBytes } : {}),
    ...(compactMinChunks !== undefined ? { compactMinChunks } : {}),
  };
}
