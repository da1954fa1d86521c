import type { FastifyPluginAsync } from 'fastify';
import { InvalidArgumentError } from '@armillaria/core';
import { Catalog } from '../../catalog.js';
import type { CatalogApi } from '../../catalog-api.js';
import { collectGarbage, type GcOptions } from '../../maintenance/gc.js';
import type { GcRootSource } from '../../maintenance/gc-roots.js';
import { verifyStore, type VerifyOptions } from '../../maintenance/verify.js';
import { body } from '../http-args.js';

export interface MaintenanceRoutesOptions {
  catalog: CatalogApi;
  /** Live roots for GC (e.g. the coordinator's pending transactions) when the coordinator shares the process. */
  gcRoots?: readonly GcRootSource[];
}

/**
 * `POST /gc` {dryRun?, graceMs? (alias olderThan), retainHistoryMs?} -> GcResult: store-wide, since
 * every repo shares the chunks. `POST /verify` {retainHistoryMs?} and `POST /repos/:repo/verify` ->
 * VerifyResult (200 even when `ok` is false: the report is the answer). Both need the catalog
 * in-process (INVALID_ARGUMENT on a service that only proxies to a remote catalog).
 */
export const maintenanceRoutes: FastifyPluginAsync<MaintenanceRoutesOptions> = async (app, opts) => {
  const local = (): Catalog => {
    if (!(opts.catalog instanceof Catalog)) throw new InvalidArgumentError('gc and verify run where the catalog runs in-process; send them to the catalog service');
    return opts.catalog;
  };
  app.post('/gc', async (req) => {
    const b = body<Record<string, unknown>>(req);
    const o: GcOptions = { dryRun: flag(b.dryRun, 'dryRun') };
    const grace = ms(b.graceMs, 'graceMs') ?? ms(b.olderThan, 'olderThan');
    if (grace !== undefined) o.graceMs = grace;
    const retain = ms(b.retainHistoryMs, 'retainHistoryMs');
    if (retain !== undefined) o.retainHistoryMs = retain;
    if (opts.gcRoots) o.roots = opts.gcRoots;
    return collectGarbage(local(), o);
  });
  const verify = (repo: string | undefined, b: Record<string, unknown>) => {
    const o: VerifyOptions = {};
    if (repo !== undefined) o.repo = repo;
    const retain = ms(b.retainHistoryMs, 'retainHistoryMs');
    if (retain !== undefined) o.retainHistoryMs = retain;
    return verifyStore(local(), o);
  };
  app.post('/verify', async (req) => verify(undefined, body(req)));
  app.post<{ Params: { repo: string } }>('/repos/:repo/verify', async (req) => verify(req.params.repo, body(req)));
};

function flag(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${name} must be a boolean`, { details: { [name]: v } });
  return v;
}

function ms(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${name} must be a non-negative number of milliseconds`, { details: { [name]: v } });
  return v;
}
