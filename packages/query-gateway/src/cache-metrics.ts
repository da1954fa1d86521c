import { metricCounter, metricGauge } from '@armillaria/core';

/**
 * Series of the query chunk cache beyond the shared hit/miss counters (`recordCacheLookup('query-chunks')`):
 * how often the size bound forces files out (a high rate means the bound is too small for the working
 * set) and how much the cache holds.
 */
export const cacheMetrics = {
  evictions: metricCounter('armillaria_query_cache_evictions_total', 'Files evicted from the query chunk cache to stay under its size bound'),
  bytes: metricGauge('armillaria_query_cache_bytes', 'Bytes held by the query chunk caches of this process (chunks and compacted versions)'),
} as const;
