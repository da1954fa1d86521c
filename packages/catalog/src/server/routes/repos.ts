import type { FastifyPluginAsync } from 'fastify';
import type { CatalogApi } from '../../catalog-api.js';
import { body } from '../http-args.js';

export const repoRoutes: FastifyPluginAsync<{ catalog: CatalogApi }> = async (app, { catalog }) => {
  app.post('/repos', async (req, reply) => {
    const b = body<{ name?: string; defaultBranch?: string; author?: string }>(req);
    const opts: { defaultBranch?: string; author?: string } = {};
    if (b.defaultBranch !== undefined) opts.defaultBranch = b.defaultBranch;
    if (b.author !== undefined) opts.author = b.author;
    return reply.status(201).send(await catalog.createRepo(b.name as string, opts));
  });
  app.get('/repos', async () => ({ repos: await catalog.listRepos() }));
  app.get<{ Params: { repo: string } }>('/repos/:repo', async (req) => catalog.getRepo(req.params.repo));
};
