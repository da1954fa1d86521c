import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { InvalidArgumentError } from './errors.js';

/**
 * Prometheus metrics of the process, exposed by every service's `/metrics`.
 *
 * One registry per process (not prom-client's global one, so a library that registers there cannot
 * collide with us): libraries increment the shared series below from their own code, with no access to
 * the Fastify app, and `armillaria serve`, which mounts every service in one app, exposes them all once.
 */
export const metricsRegistry = new Registry();

let defaultsCollected = false;
/** Node process metrics (CPU, memory, event loop lag, GC, handles) under prom-client's standard names; once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

type Kind = 'counter' | 'gauge' | 'histogram';
const kinds = new Map<string, Kind>();

function existing<T>(name: string, kind: Kind): T | undefined {
  const seen = kinds.get(name);
  if (seen === undefined) return undefined;
  // Two packages must not silently share a name with different meanings.
  if (seen !== kind) throw new InvalidArgumentError(`metric ${name} is already registered as a ${seen}, not a ${kind}`, { details: { name } });
  return metricsRegistry.getSingleMetric(name) as T;
}

function checkName(name: string): void {
  if (!/^armillaria_[a-z0-9_]+$/.test(name)) {
    throw new InvalidArgumentError(`metric name ${JSON.stringify(name)}: expected armillaria_<snake_case>`, { details: { name } });
  }
}

/**
 * Gets or creates a counter. Idempotent by name, so a module loaded twice or two instances of a
 * service in one process share the series; a name reused with another kind throws INVALID_ARGUMENT.
 */
export function metricCounter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  checkName(name);
  const found = existing<Counter<L>>(name, 'counter');
  if (found) return found;
  const metric = new Counter<L>({ name, help, labelNames, registers: [metricsRegistry] });
  kinds.set(name, 'counter');
  return metric;
}

/** Gets or creates a gauge (see `metricCounter`). */
export function metricGauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void | Promise<void>): Gauge<L> {
  checkName(name);
  const found = existing<Gauge<L>>(name, 'gauge');
  if (found) return found;
  const metric = new Gauge<L>({ name, help, labelNames, registers: [metricsRegistry], ...(collect ? { collect } : {}) });
  kinds.set(name, 'gauge');
  return metric;
}

/** Gets or creates a histogram (see `metricCounter`); `buckets` in the unit of the name (seconds, bytes). */
export function metricHistogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
  checkName(name);
  const found = existing<Histogram<L>>(name, 'histogram');
  if (found) return found;
  const metric = new Histogram<L>({ name, help, labelNames, registers: [metricsRegistry], ...(buckets ? { buckets } : {}) });
  kinds.set(name, 'histogram');
  return metric;
}
