import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { createServiceApp } from '@armillaria/core/server';
import { ArmillariaError, ErrorCode, type HttpClient } from '@armillaria/core';
import { catalogRoutes, type CatalogApi } from '@armillaria/catalog';
import { changesRoutes, type Changelog } from '@armillaria/changelog';
import { txnRoutes, type TxnApi } from '@armillaria/txn-coordinator';
import type { QueryEngine } from '../query-engine.js';
import { TokenRegistry, atLeast, isProtected, validateProtectedBranches, type AuthOptions, type Principal, type ProtectedBranches, type Role } from './access.js';
import { DEFAULT_BRANCH, ROUTE_INDEX, routeKey, type Target } from './route-table.js';
import { docsHtml, openApiDocument } from './openapi.js';
import { sqlRoutes } from './routes/sql.js';
import { forwardToCatalogService } from './maintenance-forward.js';

export interface GatewayDeps {
  /** In-process `Catalog` (embedded) or `RemoteCatalog` (distributed): the routes are the same. */
  catalog: CatalogApi;
  engine: QueryEngine;
  /** `TxnCoordinator` or `RemoteTxnClient`; without it the /txn routes are absent. */
  txn?: TxnApi;
  /** Without it the change routes are absent. */
  changelog?: Changelog;
  /** Without it every request is allowed (embedded, single user); with it every route but health and docs needs a token. */
  auth?: AuthOptions;
  protectedBranches?: ProtectedBranches;
  ready?: () => Promise<void>;
  logger?: FastifyServerOptions['logger'];
  arrowBodyLimit?: number;
  heartbeatMs?: number;
  /**
   * Gateway-only mode: the catalog service, which answers what needs the catalog in-process
   * (`POST /gc`, `/verify`, `/repos/:repo/verify`) and which a `RemoteCatalog` cannot run.
   */
  catalogService?: HttpClient;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const everything: Principal = { name: 'anonymous (auth off)', roleFor: () => 'admin' };

/** The gateway: every service's routes in one app behind tokens and protected branches, plus SQL and docs. Never listens. */
export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  const app = createServiceApp({
    name: 'query-gateway',
    ...(deps.ready ? { ready: deps.ready } : {}),
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
  });
  await app.register(gatewayRoutes, deps);
  return app;
}

/** The gateway's routes and access checks as one plugin (`armillaria serve` mounts it). */
export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const tokens = deps.auth ? new TokenRegistry(deps.auth) : undefined;
  const protectedBranches = validateProtectedBranches(deps.protectedBranches);
  const guarded = Object.keys(protectedBranches).length > 0;

  // Authentication first (before bodies are parsed and validated): a wrong token is 401 whatever it sent.
  app.addHook('onRequest', async (req) => {
    const rule = ruleOf(req);
    if (rule?.role === 'none') return;
    req.principal = tokens ? tokens.authenticate(req.headers.authorization) : everything;
  });

  // Authorization needs the body (merge target, txn begin branch), so it runs once the body is parsed.
  app.addHook('preHandler', async (req) => {
    const rule = ruleOf(req);
    if (rule?.role === 'none' || !req.principal) return;
    const principal = req.principal;
    if (!rule) {
      // Deny by default: a route nobody classified needs admin on every repo.
      if (!atLeast(principal.roleFor('*'), 'admin')) throw forbidden(principal, '*', undefined, 'admin');
      return;
    }
    const target: Target = rule.target ? rule.target(req as never) : { repo: '*' };
    let { repo, branch } = target;
    if (target.txnId !== undefined) {
      if (!deps.txn) return;
      const status = await deps.txn.status(target.txnId);
      repo = status.repo;
      branch = status.branch;
    }
    const role = repo === '*' && rule.method === 'GET' ? 'read' : principal.roleFor(repo);
    if (!atLeast(role, rule.role as Role)) throw forbidden(principal, repo, role, rule.role as Role);
    if (!guarded || branch === undefined || rule.role === 'read') return;
    const name = branch === DEFAULT_BRANCH ? (await deps.catalog.getRepo(repo)).defaultBranch : branch;
    if (!isProtected(protectedBranches, repo, name)) return;
    if (target.adminMay && atLeast(role, 'admin')) return;
    throw new ArmillariaError(ErrorCode.BranchProtected, target.adminMay
      ? `branch ${name} of ${repo} is protected: only admins may merge into it or create it`
      : `branch ${name} of ${repo} is protected: write to another branch and merge it (admins only)`, { details: { repo, branch: name } });
  });

  // Direct writes through the catalog routes publish their commit's change events, as the coordinator
  // does for transactions, so live subscribers hear of them at once (the events are computed from the
  // catalog, and publishing is idempotent). A failed publish does not undo the write: it is logged, and
  // subscribers still catch up from the catalog at the next event.
  if (deps.changelog) {
    const changelog = deps.changelog;
    app.addHook('preSerialization', async (req, reply, payload: unknown) => {
      const found = ruleOf(req);
      const rule = found && 'url' in found ? found : undefined;
      if (!rule || !rule.target || rule.method === 'GET' || reply.statusCode >= 300 || rule.url.startsWith('/txn')) return payload;
      const target = rule.target(req as never);
      const commits = commitsOf(rule.url, payload);
      if (target.branch === undefined || commits.length === 0) return payload;
      try {
        const branch = target.branch === DEFAULT_BRANCH ? (await deps.catalog.getRepo(target.repo)).defaultBranch : target.branch;
        for (const commit of commits) await changelog.publishCommit(target.repo, branch, commit);
      } catch (err) {
        req.log.error({ err, repo: target.repo, commits }, 'publishing change events failed');
      }
      return payload;
    });
  }

  app.get('/docs/openapi.json', async () => openApiDocument());
  app.get('/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(docsHtml()));

  await app.register(sqlRoutes, { engine: deps.engine });
  if (deps.catalogService) forwardToCatalogService(app, deps.catalogService);
  await app.register(catalogRoutes, { catalog: deps.catalog, ...(deps.arrowBodyLimit ? { arrowBodyLimit: deps.arrowBodyLimit } : {}) });
  if (deps.txn) await app.register(txnRoutes, { txn: deps.txn });
  if (deps.changelog) await app.register(changesRoutes, { changelog: deps.changelog, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}) });
}

/**
 * The commits a catalog write answered with, oldest first: `{commit: {hash}}` (writes, merge, revert), a
 * commit itself (POST /commits) or `{commits: [...]}` (POST /chains).
 */
function commitsOf(url: string, payload: unknown): string[] {
  if (!payload || typeof payload !== 'object') return [];
  const p = payload as { commit?: unknown; hash?: unknown; commits?: unknown; unchanged?: unknown };
  // Nothing changed (an upsert of held rows, an already compact table): the commit named is the old head.
  if (p.unchanged === true) return [];
  const hashOf = (c: unknown): string | undefined => (c && typeof c === 'object' && typeof (c as { hash?: unknown }).hash === 'string' ? (c as { hash: string }).hash : undefined);
  const one = hashOf(p.commit);
  if (one !== undefined) return [one];
  if (url === '/repos/:repo/commits' && typeof p.hash === 'string') return [p.hash];
  if (url === '/repos/:repo/chains' && Array.isArray(p.commits)) return p.commits.map(hashOf).filter((h): h is string => h !== undefined);
  return [];
}

function ruleOf(req: FastifyRequest) {
  const url = req.routeOptions?.url;
  if (url === undefined) return { role: 'none' as const };
  return ROUTE_INDEX.get(routeKey(req.method === 'HEAD' ? 'GET' : req.method, url));
}

function forbidden(p: Principal, repo: string, have: Role | undefined, need: Role): ArmillariaError {
  return new ArmillariaError(ErrorCode.Forbidden, `${p.name} has ${have ? `the ${have} role` : 'no role'} on ${repo === '*' ? 'every repo' : `repo ${repo}`}; this needs ${need}`, { details: { repo, role: have ?? null, required: need } });
}
