import type { FastifyInstance } from 'fastify';
import { createServiceApp } from '@armillaria/core/server';
import type { TxnApi } from '../txn-api.js';
import { txnRoutes } from './routes/txn-routes.js';

export interface TxnServiceDeps {
  txn: TxnApi;
  /** Checked by /readyz (e.g. the txn log's and ref store's ping). */
  ready?: () => Promise<void>;
  logger?: boolean | { level: string };
  /** Required from callers on every route but the probes and /metrics (see `createServiceApp`); unset: open. */
  serviceToken?: string | undefined;
}

/** The transaction service: `/txn` plus health routes. Never listens (see main.ts). */
export async function buildApp(deps: TxnServiceDeps): Promise<FastifyInstance> {
  const app = createServiceApp({
    name: 'txn-coordinator',
    ...(deps.ready ? { ready: deps.ready } : {}),
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    serviceToken: deps.serviceToken,
  });
  await app.register(txnRoutes, { txn: deps.txn });
  return app;
}
