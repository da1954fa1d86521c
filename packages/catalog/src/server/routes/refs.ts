import type { FastifyPluginAsync } from 'fastify';
import type { CatalogApi } from '../../catalog-api.js';
import { body, intArg, query } from '../http-args.js';

type RepoParams = { repo: string };
type RefParams = { repo: string; '*': string };

/** Resolution, branches (names may hold `/`, hence the wildcard) and tags. */
export const refRoutes: FastifyPluginAsync<{ catalog: CatalogApi }> = async (app, { catalog }) => {
  app.get<{ Params: RepoParams }>('/repos/:repo/resolve', async (req) => {
    const q = query(req);
    return catalog.resolve(req.params.repo, q.ref, q.asOf !== undefined ? { asOf: q.asOf } : {});
  });

  app.get<{ Params: RepoParams }>('/repos/:repo/branches', async (req) => ({ branches: await catalog.listBranches(req.params.repo) }));
  app.post<{ Params: RepoParams }>('/repos/:repo/branches', async (req, reply) => {
    const b = body<{ name?: string; from?: string; asOf?: string | number }>(req);
    const opts: { from?: string; asOf?: string | number } = {};
    if (b.from !== undefined) opts.from = b.from;
    if (b.asOf !== undefined) opts.asOf = b.asOf;
    return reply.status(201).send(await catalog.createBranch(req.params.repo, b.name as string, opts));
  });
  app.get<{ Params: RepoParams }>('/repos/:repo/reflog', async (req) => {
    const q = query(req);
    const opts: { limit?: number; before?: string } = {};
    const limit = intArg(q, 'limit');
    if (limit !== undefined) opts.limit = limit;
    if (q.before !== undefined) opts.before = q.before;
    return { entries: await catalog.branchReflog(req.params.repo, q.branch as string, opts) };
  });
  app.get<{ Params: RefParams }>('/repos/:repo/branches/*', async (req) => catalog.getBranch(req.params.repo, req.params['*']));
  app.delete<{ Params: RefParams }>('/repos/:repo/branches/*', async (req, reply) => {
    await catalog.deleteBranch(req.params.repo, req.params['*']);
    return reply.status(204).send();
  });

  app.get<{ Params: RepoParams }>('/repos/:repo/tags', async (req) => ({ tags: await catalog.listTags(req.params.repo) }));
  app.post<{ Params: RepoParams }>('/repos/:repo/tags', async (req, reply) => {
    const b = body<{ name?: string; ref?: string; asOf?: string | number }>(req);
    const opts: { ref?: string; asOf?: string | number } = {};
    if (b.ref !== undefined) opts.ref = b.ref;
    if (b.asOf !== undefined) opts.asOf = b.asOf;
    return reply.status(201).send(await catalog.createTag(req.params.repo, b.name as string, opts));
  });
  app.delete<{ Params: RepoParams & { tag: string } }>('/repos/:repo/tags/:tag', async (req, reply) => {
    await catalog.deleteTag(req.params.repo, req.params.tag);
    return reply.status(204).send();
  });
};
