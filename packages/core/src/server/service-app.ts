import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { errorReplyBody } from '../http-status.js';
import { ErrorCode } from '../errors.js';
import { serviceMetrics } from '../service-metrics.js';
import { isValidRequestId } from '../request-context.js';
import { addObservability } from './observability.js';
import { requireServiceToken } from './service-token.js';

export interface ServiceAppOptions {
  /** Service name, reported by /healthz. */
  name: string;
  /** Throws when a backend is unreachable; /readyz answers 503 with the reason then. */
  ready?: () => Promise<void>;
  /** Fastify's own body limit for JSON and other parsed bodies (default 16 MiB). */
  bodyLimit?: number;
  /** pino logger options or false (default: off in tests, info otherwise). Logs are JSON lines. */
  logger?: FastifyServerOptions['logger'];
  /** Serve `GET /metrics` (default true). Request ids and latency metrics are recorded either way. */
  metrics?: boolean;
  /**
   * When set, every route but /healthz, /readyz and /metrics needs `authorization: Bearer <serviceToken>`
   * (401 UNAUTHORIZED otherwise): internal services pass `serviceTokenFromEnv()`. The gateway does not: its
   * public API has its own tokens.
   */
  serviceToken?: string | undefined;
}

/** Never log credentials, whatever a route or a hook puts in a log line. */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization', 'token'];

function loggerOptions(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined) {
    if (process.env.NODE_ENV === 'test' || process.env.VITEST) return false;
    logger = { level: process.env.ARMILLARIA_LOG_LEVEL ?? 'info' };
  }
  if (logger === true) logger = { level: process.env.ARMILLARIA_LOG_LEVEL ?? 'info' };
  if (logger === false || typeof logger !== 'object') return logger;
  return { redact: REDACT, ...logger };
}

/**
 * The Fastify instance every Armillaria service starts from: typed error replies
 * (`{statusCode, code, error, message}`) for thrown errors and unknown routes, `/healthz` (the process
 * is up), `/readyz` (its backends answer), `/metrics` (Prometheus), JSON logs (pino) and request ids
 * taken from and echoed as `x-request-id`. Never listens: `main.ts` of each service does.
 */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const app = Fastify({
    logger: loggerOptions(options.logger),
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    // A caller's id is kept (so one id follows a request across services) when it is a plain token;
    // anything else (too long, odd characters: log injection) gets a fresh one. Logs show it as `reqId`.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return isValidRequestId(given) ? given : crypto.randomUUID();
    },
  });
  addObservability(app, options.name, options.metrics ?? true);
  if (options.serviceToken !== undefined) requireServiceToken(app, options.serviceToken);

  app.setErrorHandler((err, request, reply) => {
    const body = errorReplyBody(err);
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed');
    // Conflicts as callers see them (internal rebases that succeed are not conflicts).
    if (body.code === ErrorCode.TxnConflict || body.code === ErrorCode.RefConflict || body.code === ErrorCode.MergeConflict) serviceMetrics.conflicts.inc();
    void reply.status(body.statusCode).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      statusCode: 404,
      code: ErrorCode.NotFound,
      error: 'Not Found',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    });
  });

  app.get('/healthz', async () => ({ status: 'ok', service: options.name }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await options.ready?.();
      return { status: 'ready', service: options.name };
    } catch (err) {
      return reply.status(503).send({
        statusCode: 503,
        code: ErrorCode.BackendUnavailable,
        error: 'Service Unavailable',
        message: `not ready: ${(err as Error).message}`,
      });
    }
  });
  return app;
}
