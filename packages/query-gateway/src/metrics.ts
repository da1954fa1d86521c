import { metricCounter, metricGauge } from '@armillaria/core';

/**
 * Series of the query chunk cache beyond the shared hit/miss counters (`recordCacheLookup('query-chunks')`):
 * how often the size bound forces files out (a high rate means the bound is too small for the working
 * set) and how much the caches hold.
 */
export const cacheMetrics = {
  evictions: metricCounter('armillaria_query_cache_evictions_total', 'Files evicted from the query chunk cache to stay under its size bound'),
  bytes: metricGauge('armillaria_query_cache_bytes', 'Bytes held by the query chunk caches of this process (chunks and compacted versions)'),
} as const;

/** Queries of the engine. */
export const queryMetrics = {
  /** Cancelled by the caller's signal (over HTTP: the client went away before the answer). */
  cancelled: metricCounter('armillaria_queries_cancelled_total', 'Queries cancelled by their caller (HTTP client gone) before they finished'),
} as const;
