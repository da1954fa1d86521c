import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { errorReplyBody } from '../http-status.js';
import { ErrorCode } from '../errors.js';

export interface ServiceAppOptions {
  /** Service name, reported by /healthz. */
  name: string;
  /** Throws when a backend is unreachable; /readyz answers 503 with the reason then. */
  ready?: () => Promise<void>;
  /** Fastify's own body limit for JSON and other parsed bodies (default 16 MiB). */
  bodyLimit?: number;
  /** pino logger options or false (default: off in tests, info otherwise). */
  logger?: FastifyServerOptions['logger'];
}

/**
 * The Fastify instance every Armillaria service starts from: typed error replies
 * (`{statusCode, code, error, message}`) for thrown errors and unknown routes, `/healthz` (the process
 * is up) and `/readyz` (its backends answer). Never listens: `main.ts` of each service does.
 */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? (process.env.NODE_ENV === 'test' || process.env.VITEST ? false : { level: process.env.ARMILLARIA_LOG_LEVEL ?? 'info' }),
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
  });

  app.setErrorHandler((err, request, reply) => {
    const body = errorReplyBody(err);
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed');
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
