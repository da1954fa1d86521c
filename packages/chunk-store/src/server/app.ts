import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '@armillaria/core/server';
import type { ChunkStore } from '../chunk-store.js';
import type { ObjectStore } from '../object-store.js';
import { chunkRoutes, type ChunkRoutesOptions } from './chunk-routes.js';

export interface ChunkServiceDeps extends Omit<ChunkRoutesOptions, 'chunks'> {
  chunks: ChunkStore;
  /** Checked by /readyz. */
  objects?: ObjectStore;
  logger?: boolean;
  /** Required from callers on every route but the probes and /metrics (see `createServiceApp`); unset: open. */
  serviceToken?: string | undefined;
}

/** The chunk-store service: `/chunks` plus health routes. Never listens (see main.ts). */
export async function buildApp(deps: ChunkServiceDeps): Promise<FastifyInstance> {
  const { chunks, objects, logger, serviceToken, ...limits } = deps;
  const app = createServiceApp({
    name: 'chunk-store',
    ...(objects ? { ready: () => objects.ping() } : {}),
    ...(logger !== undefined ? { logger } : {}),
    serviceToken,
  });
  await app.register(chunkRoutes, { chunks, ...limits });
  return app;
}
