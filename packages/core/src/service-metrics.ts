import { metricCounter, metricGauge, metricHistogram } from './metrics.js';

/**
 * The series every deployment dashboard relies on. They exist (at 0) from the start, so an alert on
 * `rate(armillaria_commits_total[5m]) == 0` means "no commits", not "no such series".
 * Which package increments which: see docs/deploy.md (Metrics).
 */
export const serviceMetrics = {
  /** Commits that moved a branch (catalog commit, merge, transaction COMMIT). */
  commits: metricCounter('armillaria_commits_total', 'Commits that moved a branch ref'),
  /** Transactions or ref updates refused by a conflict (TXN_CONFLICT, stale compare-and-swap). */
  conflicts: metricCounter('armillaria_conflicts_total', 'Commits refused by a conflict'),
  /** Chunk bytes written to the chunk store (new or already present). */
  chunkBytesIn: metricCounter('armillaria_chunk_bytes_in_total', 'Chunk bytes received for storage'),
  /** Chunk bytes read out of the chunk store. */
  chunkBytesOut: metricCounter('armillaria_chunk_bytes_out_total', 'Chunk bytes served'),
  cacheHits: metricCounter('armillaria_cache_hits_total', 'Cache lookups that found the entry', ['cache']),
  cacheMisses: metricCounter('armillaria_cache_misses_total', 'Cache lookups that missed', ['cache']),
  /** Request latency by route template (not raw URL: bounded cardinality), set by the service app. */
  httpDuration: metricHistogram(
    'armillaria_http_request_duration_seconds',
    'HTTP request latency',
    ['service', 'method', 'route', 'status_code'],
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  ),
} as const;

const lookups = new Map<string, { hits: number; misses: number }>();

/** Counts one cache lookup; `cache` names the cache (e.g. `query-chunks`, `manifests`). */
export function recordCacheLookup(cache: string, hit: boolean): void {
  const entry = lookups.get(cache) ?? { hits: 0, misses: 0 };
  lookups.set(cache, entry);
  if (hit) {
    entry.hits++;
    serviceMetrics.cacheHits.inc({ cache });
  } else {
    entry.misses++;
    serviceMetrics.cacheMisses.inc({ cache });
  }
}

// The ratio since start, per cache: hits / lookups. PromQL can compute windowed rates from the two
// counters; this gauge is the at-a-glance number for dashboards without a query.
metricGauge('armillaria_cache_hit_ratio', 'Cache hits / lookups since start', ['cache'], function collect() {
  for (const [cache, { hits, misses }] of lookups) this.set({ cache }, hits / (hits + misses));
});
