import type { FastifyInstance } from 'fastify';
import { metricsRegistry, collectProcessMetrics } from '../metrics.js';
import { runWithRequestId } from '../request-context.js';
import { serviceMetrics } from '../service-metrics.js';

/**
 * Request ids and metrics for one service app:
 * - every request runs inside `runWithRequestId(request.id)`, so `HttpClient` forwards the id to the
 *   services it calls, and the reply carries `x-request-id` back to the caller;
 * - the latency of every request lands in `armillaria_http_request_duration_seconds`;
 * - `GET /metrics` renders the process registry in the Prometheus text format.
 */
export function addObservability(app: FastifyInstance, service: string, exposeMetrics: boolean): void {
  collectProcessMetrics();

  // Entered twice on purpose: onRequest covers the hooks before the body is read; body parsing resumes
  // on the socket's stream events, outside that context, so preHandler enters it again for the handler.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    runWithRequestId(request.id, done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    runWithRequestId(request.id, done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    serviceMetrics.httpDuration.observe(
      {
        service,
        method: request.method,
        // The route template (`/chunks/:hash`), never the raw URL: one series per route, not per hash.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });

  if (exposeMetrics) {
    app.get('/metrics', async (_request, reply) => {
      const text = await metricsRegistry.metrics();
      return reply.type(metricsRegistry.contentType).send(text);
    });
  }
}
