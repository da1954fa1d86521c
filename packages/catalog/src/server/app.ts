import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { createServiceApp } from '@armillaria/core/server';
import type { CatalogApi } from '../catalog-api.js';
import { ARROW_STREAM } from './http-args.js';
import { repoRoutes } from './routes/repos.js';
import { refRoutes } from './routes/refs.js';
import { commitRoutes } from './routes/commits.js';
import { tableRoutes } from './routes/tables.js';
import { mergeRoutes } from './routes/merge.js';

export interface CatalogServiceDeps {
  catalog: CatalogApi;
  /** Throws when a backend is unreachable (/readyz). */
  ready?: () => Promise<void>;
  /** Largest Arrow body accepted (default 512 MiB). */
  arrowBodyLimit?: number;
  logger?: FastifyServerOptions['logger'];
  /** Required from callers on every route but the probes and /metrics (see `createServiceApp`); unset: open. */
  serviceToken?: string | undefined;
}

/** The catalog service: `/repos/:repo/...` plus health routes. Never listens (see main.ts). */
export async function buildApp(deps: CatalogServiceDeps): Promise<FastifyInstance> {
  const app = createServiceApp({
    name: 'catalog',
    ...(deps.ready ? { ready: deps.ready } : {}),
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    serviceToken: deps.serviceToken,
  });
  await app.register(catalogRoutes, { catalog: deps.catalog, ...(deps.arrowBodyLimit ? { arrowBodyLimit: deps.arrowBodyLimit } : {}) });
  return app;
}

/** The routes as one plugin, so `armillaria serve` can mount them beside other services. */
export async function catalogRoutes(app: FastifyInstance, opts: { catalog: CatalogApi; arrowBodyLimit?: number }): Promise<void> {
  app.addContentTypeParser(ARROW_STREAM, { parseAs: 'buffer', bodyLimit: opts.arrowBodyLimit ?? 512 * 1024 * 1024 }, (_req, payload, done) => {
    done(null, payload);
  });
  await app.register(repoRoutes, { catalog: opts.catalog });
  await app.register(refRoutes, { catalog: opts.catalog });
  await app.register(commitRoutes, { catalog: opts.catalog });
  await app.register(tableRoutes, { catalog: opts.catalog });
  await app.register(mergeRoutes, { catalog: opts.catalog });
  await app.register((await import('./routes/maintenance.js')).maintenanceRoutes, { catalog: opts.catalog });
}
