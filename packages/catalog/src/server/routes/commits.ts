import type { FastifyPluginAsync } from 'fastify';
import type { CatalogApi, CommitChainOptions, CommitTreeOptions, LogOptions } from '../../catalog-api.js';
import { body, intArg, query, refOptions } from '../http-args.js';

type RepoParams = { repo: string };

/** Commits, trees, commitTree and commitChain (one CAS each) and log. */
export const commitRoutes: FastifyPluginAsync<{ catalog: CatalogApi }> = async (app, { catalog }) => {
  app.get<{ Params: RepoParams & { hash: string } }>('/repos/:repo/commits/:hash', async (req) => catalog.readCommit(req.params.repo, req.params.hash));
  app.get<{ Params: RepoParams & { hash: string } }>('/repos/:repo/trees/:hash', async (req) => catalog.readTree(req.params.repo, req.params.hash));
  app.post<{ Params: RepoParams }>('/repos/:repo/commits', async (req, reply) => {
    const b = body<CommitTreeOptions & { branch?: string }>(req);
    const { branch, ...opts } = b;
    return reply.status(201).send(await catalog.commitTree(req.params.repo, branch as string, opts));
  });
  app.post<{ Params: RepoParams }>('/repos/:repo/chains', async (req, reply) => {
    const { branch, ...opts } = body<CommitChainOptions & { branch?: string }>(req);
    return reply.status(201).send({ commits: await catalog.commitChain(req.params.repo, branch as string, opts) });
  });
  app.get<{ Params: RepoParams }>('/repos/:repo/log', async (req) => {
    const q = query(req);
    const opts: LogOptions = refOptions(q);
    if (q.table !== undefined) opts.table = q.table;
    const limit = intArg(q, 'limit');
    if (limit !== undefined) opts.limit = limit;
    return { commits: await catalog.log(req.params.repo, opts) };
  });
};
