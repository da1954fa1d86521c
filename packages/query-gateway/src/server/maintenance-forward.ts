import type { FastifyInstance } from 'fastify';
import type { HttpClient } from '@armillaria/core';

/**
 * The catalog routes that need the catalog in-process (they walk every chunk of the store): the catalog
 * service answers them, a gateway over a `RemoteCatalog` cannot. Keys as in the route table.
 */
export const CATALOG_SERVICE_ONLY = new Set(['POST /gc', 'POST /verify', 'POST /repos/:repo/verify']);

/**
 * Gateway-only mode: the catalog routes above are mounted as usual (same schema, same access rules in the
 * route table) but their handler forwards the request to the catalog service, which runs them in-process.
 * Replacing the handler in `onRoute` keeps one definition of each route (the catalog's) instead of a
 * second copy here. The caller's body goes as JSON; the service's answer (or typed error) comes back as is.
 * Must be registered before the catalog routes.
 */
export function forwardToCatalogService(app: FastifyInstance, service: HttpClient): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => CATALOG_SERVICE_ONLY.has(`${m} ${route.url}`))) return;
    route.handler = async (req) => service.json<unknown>(req.url, { method: 'POST', json: req.body ?? {} });
  });
}
