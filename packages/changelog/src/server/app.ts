import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '@armillaria/core/server';
import type { Changelog } from '../changelog.js';
import { changesRoutes } from './routes/changes.js';

export interface ChangelogServiceDeps {
  changelog: Changelog;
  logger?: boolean;
  heartbeatMs?: number;
  /** Required from callers on every route but the probes and /metrics (see `createServiceApp`); unset: open. */
  serviceToken?: string | undefined;
}

/** The changelog service: `/repos/:repo/changes` (SSE) and commit events, plus health routes. Never listens. */
export async function buildApp(deps: ChangelogServiceDeps): Promise<FastifyInstance> {
  const app = createServiceApp({
    name: 'changelog',
    ready: () => deps.changelog.bus.ping(),
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    serviceToken: deps.serviceToken,
  });
  await app.register(changesRoutes, { changelog: deps.changelog, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}) });
  return app;
}
