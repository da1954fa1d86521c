// /metrics of a real service (the chunk-store's buildApp) after real requests, and the metric helpers
// every package uses to add its own series.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { metricCounter, metricGauge, recordCacheLookup, serviceMetrics } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, buildApp, loadHasher, type Hasher } from '@armillaria/chunk-store';

/** `name{labels} value` lines of the Prometheus text format, as a map from series to value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('service /metrics (chunk-store)', () => {
  let app: FastifyInstance;
  let hasher: Hasher;
  beforeAll(async () => {
    hasher = await loadHasher();
    const objects = new MemoryObjectStore();
    app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects });
  });
  afterAll(async () => {
    await app.close();
  });

  it('exposes request latency by route, method and status, process metrics and the named series', async () => {
    const data = randomBytes(4096);
    const hash = hasher.hash(data);
    const headers = { 'content-type': 'application/octet-stream' };
    expect((await app.inject({ method: 'PUT', url: `/chunks/${hash}`, headers, payload: data })).statusCode).toBe(201);
    for (let i = 0; i < 3; i++) expect((await app.inject({ url: `/chunks/${hash}` })).statusCode).toBe(200);
    expect((await app.inject({ url: `/chunks/${'0'.repeat(64)}` })).statusCode).toBe(404);
    expect((await app.inject({ url: '/no/such/route' })).statusCode).toBe(404);

    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const s = samples(text);
    const count = (method: string, route: string, status: number) =>
      s.get(`armillaria_http_request_duration_seconds_count{service="chunk-store",method="${method}",route="${route}",status_code="${status}"}`);
    // Templates, not raw URLs: the three GETs of one hash and the miss share their route's series.
    expect(count('PUT', '/chunks/:hash', 201)).toBe(1);
    expect(count('GET', '/chunks/:hash', 200)).toBe(3);
    expect(count('GET', '/chunks/:hash', 404)).toBe(1);
    expect(count('GET', 'unmatched', 404)).toBe(1);
    expect(text).not.toContain(hash);
    expect(text).toMatch(/armillaria_http_request_duration_seconds_bucket\{le="0\.005",service="chunk-store",method="GET",route="\/chunks\/:hash",status_code="200"\} \d/);

    // Process metrics from prom-client's default collectors.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(s.has(name), name).toBe(true);
    }
    // The named series exist from the start (0 until a package counts), so alerts never see "no data".
    for (const name of ['armillaria_commits_total', 'armillaria_conflicts_total', 'armillaria_chunk_bytes_in_total', 'armillaria_chunk_bytes_out_total']) {
      expect(s.get(name), name).toBeGreaterThanOrEqual(0);
    }
    for (const name of ['armillaria_cache_hits_total', 'armillaria_cache_misses_total', 'armillaria_cache_hit_ratio']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('counts what packages record: commits, conflicts, chunk bytes and the cache hit ratio', async () => {
    const before = samples((await app.inject({ url: '/metrics' })).body);
    serviceMetrics.commits.inc();
    serviceMetrics.conflicts.inc(2);
    serviceMetrics.chunkBytesIn.inc(4096);
    serviceMetrics.chunkBytesOut.inc(100);
    recordCacheLookup('query-chunks', true);
    recordCacheLookup('query-chunks', true);
    recordCacheLookup('query-chunks', true);
    recordCacheLookup('query-chunks', false);
    const after = samples((await app.inject({ url: '/metrics' })).body);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('armillaria_commits_total')).toBe(1);
    expect(delta('armillaria_conflicts_total')).toBe(2);
    expect(delta('armillaria_chunk_bytes_in_total')).toBe(4096);
    expect(delta('armillaria_chunk_bytes_out_total')).toBe(100);
    expect(after.get('armillaria_cache_hits_total{cache="query-chunks"}')).toBe(3);
    expect(after.get('armillaria_cache_misses_total{cache="query-chunks"}')).toBe(1);
    expect(after.get('armillaria_cache_hit_ratio{cache="query-chunks"}')).toBe(0.75);
  });

  it('counts chunk bytes stored and served by real requests, and conflicts answered to callers', async () => {
    const before = samples((await app.inject({ url: '/metrics' })).body);
    const data = randomBytes(3000);
    const hash = hasher.hash(data);
    const headers = { 'content-type': 'application/octet-stream' };
    await app.inject({ method: 'PUT', url: `/chunks/${hash}`, headers, payload: data });
    await app.inject({ method: 'PUT', url: `/chunks/${hash}`, headers, payload: data }); // already stored: not counted again
    await app.inject({ method: 'GET', url: `/chunks/${hash}` });
    const after = samples((await app.inject({ url: '/metrics' })).body);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    expect(delta('armillaria_chunk_bytes_in_total')).toBe(3000);
    expect(delta('armillaria_chunk_bytes_out_total')).toBe(3000);
  });

  it('lets packages register their own series, idempotently, and refuses clashes with a typed error', async () => {
    const a = metricCounter('armillaria_test_widgets_total', 'widgets', ['kind']);
    const b = metricCounter('armillaria_test_widgets_total', 'widgets', ['kind']);
    expect(b).toBe(a);
    a.inc({ kind: 'blue' }, 5);
    expect((await app.inject({ url: '/metrics' })).body).toContain('armillaria_test_widgets_total{kind="blue"} 5');
    expect(() => metricGauge('armillaria_test_widgets_total', 'now a gauge')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => metricCounter('widgets', 'no prefix')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => metricCounter('armillaria_Bad-Name', 'bad chars')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('answers with x-request-id: the caller\'s when it is a plain token, a fresh one otherwise', async () => {
    const kept = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123.x:y_z' } });
    expect(kept.headers['x-request-id']).toBe('abc-123.x:y_z');
    const fresh = await app.inject({ url: '/healthz' });
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const replaced = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\n{"forged":1}' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const long = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'a'.repeat(129) } });
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // Errors carry it too, so a failed call can be found in the logs.
    const failed = await app.inject({ url: '/chunks/not-a-hash', headers: { 'x-request-id': 'err-1' } });
    expect(failed.statusCode).toBe(400);
    expect(failed.headers['x-request-id']).toBe('err-1');
  });
});
