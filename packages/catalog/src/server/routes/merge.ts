import type { FastifyPluginAsync } from 'fastify';
import type { CatalogApi, DiffOptions, MergeOptions, WriteOptions } from '../../catalog-api.js';
import { body, query } from '../http-args.js';

type RepoParams = { repo: string };

/** Diff, merge and revert. */
export const mergeRoutes: FastifyPluginAsync<{ catalog: CatalogApi }> = async (app, { catalog }) => {
  app.get<{ Params: RepoParams }>('/repos/:repo/diff', async (req) => {
    const q = query(req);
    const opts: DiffOptions = {};
    if (q.table !== undefined) opts.table = q.table;
    if (q.rows === 'true' || q.rows === '1') opts.rows = true;
    return catalog.diff(req.params.repo, q.from as string, q.to as string, opts);
  });
  app.post<{ Params: RepoParams }>('/repos/:repo/merge', async (req) => catalog.merge(req.params.repo, body<MergeOptions>(req)));
  app.post<{ Params: RepoParams }>('/repos/:repo/revert', async (req) => {
    const { commit, ...opts } = body<WriteOptions & { commit?: string }>(req);
    return catalog.revert(req.params.repo, commit as string, opts);
  });
};
