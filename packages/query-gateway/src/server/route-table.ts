import type { Role } from './access.js';

type Req = { params: Record<string, string>; query: Record<string, string | undefined>; body: Record<string, unknown> };

/** What a request touches, for the access check: the repo, and the branch it writes directly (if any). */
export interface Target {
  repo: string;
  /** A branch written directly; `DEFAULT_BRANCH` for the repo's default one. */
  branch?: string | typeof DEFAULT_BRANCH;
  /** `branch` is merged into or created (admins may do that to protected branches), not written directly. */
  adminMay?: boolean;
  /** The transaction whose repo and branch the request acts on (looked up through the TxnApi). */
  txnId?: string;
}

export const DEFAULT_BRANCH = Symbol('default branch');

export interface RouteRule {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** `none`: no token needed (health, docs). */
  role: Role | 'none';
  summary: string;
  tag: string;
  target?: (req: Req) => Target;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const repoOnly = (req: Req): Target => ({ repo: req.params.repo! });
const queryBranch = (req: Req): Target => ({ repo: req.params.repo!, branch: str(req.query.branch) ?? DEFAULT_BRANCH });
const bodyBranch = (req: Req): Target => ({ repo: req.params.repo!, branch: str(req.body?.branch) ?? DEFAULT_BRANCH });
const isJsonBody = (req: Req): boolean => typeof req.body === 'object' && req.body !== null && !(req.body instanceof Uint8Array);
// These mirror where the catalog's routes read the branch from (a JSON create reads its body, an Arrow one
// the query string; `columns` and `compact` let the query override the body), so the check sees the branch written.
const createTableBranch = (req: Req): Target => (isJsonBody(req) ? bodyBranch(req) : queryBranch(req));
const tableOpBranch = (req: Req): Target => ({
  repo: req.params.repo!,
  branch: str(req.query.branch) ?? ((req.params.op === 'columns' || req.params.op === 'compact' || req.params.op === 'restore') && isJsonBody(req) ? str(req.body.branch) : undefined) ?? DEFAULT_BRANCH,
});
const txn = (req: Req): Target => ({ repo: '', txnId: req.params.id! });

/**
 * Every route of the gateway with the role it needs: the single source for the access check and the
 * OpenAPI document. A route missing here needs `admin` on every repo (deny by default).
 */
export const ROUTES: readonly RouteRule[] = [
  { method: 'GET', url: '/healthz', role: 'none', summary: 'process is up', tag: 'health' },
  { method: 'GET', url: '/readyz', role: 'none', summary: 'backends answer', tag: 'health' },
  { method: 'GET', url: '/metrics', role: 'none', summary: 'Prometheus metrics', tag: 'health' },
  { method: 'GET', url: '/docs', role: 'none', summary: 'API documentation (HTML)', tag: 'docs' },
  { method: 'GET', url: '/docs/openapi.json', role: 'none', summary: 'OpenAPI 3 document', tag: 'docs' },

  { method: 'POST', url: '/repos/:repo/sql', role: 'read', summary: 'run one read-only SQL statement ({sql, branch?, ref?, asOf?, versions?, timeoutMs?, maxRows?, maxBytes?}); JSON, or Arrow IPC with Accept: application/vnd.apache.arrow.stream', tag: 'sql', target: repoOnly },

  { method: 'GET', url: '/repos', role: 'read', summary: 'list repos', tag: 'repos', target: () => ({ repo: '*' }) },
  { method: 'POST', url: '/repos', role: 'admin', summary: 'create a repo {name, defaultBranch?}', tag: 'repos', target: (req) => ({ repo: str(req.body?.name) ?? '*' }) },
  { method: 'GET', url: '/repos/:repo', role: 'read', summary: 'repo info', tag: 'repos', target: repoOnly },

  { method: 'GET', url: '/repos/:repo/tables', role: 'read', summary: 'tables at ?ref=&asOf=', tag: 'tables', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/tables/:table', role: 'read', summary: 'rows (?ref=&asOf=&version=&columns=), JSON or Arrow', tag: 'tables', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/tables/:table/version', role: 'read', summary: 'which version a ref names', tag: 'tables', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/tables/:table/describe', role: 'read', summary: 'schema, key, rows, bytes', tag: 'tables', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/tables/:table', role: 'write', summary: 'create a table: JSON {schema?, rows?, primaryKey?, branch?} or Arrow (?branch=&primaryKey=)', tag: 'tables', target: createTableBranch },
  { method: 'DELETE', url: '/repos/:repo/tables/:table', role: 'write', summary: 'drop a table (?branch=)', tag: 'tables', target: queryBranch },
  { method: 'POST', url: '/repos/:repo/tables/:table/:op', role: 'write', summary: 'op = write | append | upsert | delete | columns | compact | restore (?branch=&message=&author=) {rows} or Arrow; upsert rows may leave out non-key columns (they keep their values), compact takes no rows, restore {version? ref? asOf?}', tag: 'tables', target: tableOpBranch },

  { method: 'GET', url: '/repos/:repo/resolve', role: 'read', summary: 'the commit a ref names (?ref=&asOf=)', tag: 'history', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/commits/:hash', role: 'read', summary: 'a commit', tag: 'history', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/trees/:hash', role: 'read', summary: 'a tree', tag: 'history', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/commits', role: 'write', summary: 'commit a tree {branch, baseCommit, tree, message?}', tag: 'history', target: bodyBranch },
  { method: 'POST', url: '/repos/:repo/chains', role: 'write', summary: 'commit a chain of trees with one branch update, all or none {branch, baseCommit, commits}', tag: 'history', target: bodyBranch },
  { method: 'GET', url: '/repos/:repo/log', role: 'read', summary: 'history (?ref=&asOf=&table=&limit=)', tag: 'history', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/reflog', role: 'read', summary: 'where a ref pointed over time', tag: 'history', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/diff', role: 'read', summary: 'diff (?from=&to=&table=&rows=)', tag: 'history', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/merge', role: 'write', summary: 'merge {source, into?, strategy?, message?}; into a protected branch: admin only', tag: 'history', target: (req) => ({ repo: req.params.repo!, branch: str(req.body?.into) ?? DEFAULT_BRANCH, adminMay: true }) },
  { method: 'POST', url: '/repos/:repo/revert', role: 'write', summary: 'revert a commit {commit, branch?}', tag: 'history', target: bodyBranch },

  { method: 'GET', url: '/repos/:repo/branches', role: 'read', summary: 'branches', tag: 'refs', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/branches', role: 'write', summary: 'create a branch {name, from?, asOf?} (a protected name: admins only)', tag: 'refs', target: (req) => ({ repo: req.params.repo!, ...(str(req.body?.name) ? { branch: str(req.body.name)!, adminMay: true } : {}) }) },
  { method: 'GET', url: '/repos/:repo/branches/*', role: 'read', summary: 'a branch', tag: 'refs', target: repoOnly },
  { method: 'DELETE', url: '/repos/:repo/branches/*', role: 'write', summary: 'delete a branch (protected ones: refused)', tag: 'refs', target: (req) => ({ repo: req.params.repo!, branch: req.params['*']! }) },
  { method: 'GET', url: '/repos/:repo/tags', role: 'read', summary: 'tags', tag: 'refs', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/tags', role: 'write', summary: 'create a tag {name, ref?, asOf?}', tag: 'refs', target: repoOnly },
  { method: 'DELETE', url: '/repos/:repo/tags/:tag', role: 'write', summary: 'delete a tag', tag: 'refs', target: repoOnly },

  { method: 'PUT', url: '/repos/:repo/changes/cursors/:name', role: 'read', summary: "move a durable subscription's cursor", tag: 'changes', target: repoOnly },
  { method: 'POST', url: '/repos/:repo/verify', role: 'admin', summary: "re-hash the repo's chunks (expensive)", tag: 'maintenance', target: repoOnly },
  { method: 'POST', url: '/verify', role: 'admin', summary: 're-hash every chunk (expensive; admin on *)', tag: 'maintenance', target: () => ({ repo: '*' }) },
  { method: 'POST', url: '/gc', role: 'admin', summary: 'garbage-collect unreferenced chunks (admin on *)', tag: 'maintenance', target: () => ({ repo: '*' }) },
  { method: 'GET', url: '/repos/:repo/changes', role: 'read', summary: 'subscription as server-sent events (?branch=&tables=&from=&rows=&durable=)', tag: 'changes', target: repoOnly },
  { method: 'GET', url: '/repos/:repo/commits/:commit/events', role: 'read', summary: "one commit's change events (?branch=&rows=)", tag: 'changes', target: repoOnly },

  { method: 'POST', url: '/txn/begin', role: 'write', summary: 'begin {repo, branch?, isolation?, idleTimeoutMs?}', tag: 'transactions', target: (req) => ({ repo: str(req.body?.repo) ?? '', branch: str(req.body?.branch) ?? 'main' }) },
  { method: 'GET', url: '/txn/:id', role: 'read', summary: 'transaction status', tag: 'transactions', target: txn },
  { method: 'GET', url: '/txn/:id/tables/:table', role: 'read', summary: 'read a table in the transaction (Arrow)', tag: 'transactions', target: txn },
  { method: 'POST', url: '/txn/:id/write', role: 'write', summary: 'stage {table, op: write|append|upsert|delete|create|drop|addColumn, rows?, schema?, primaryKey?, column?}', tag: 'transactions', target: txn },
  { method: 'POST', url: '/txn/:id/commit', role: 'write', summary: 'commit {message?, author?, idempotencyKey?}', tag: 'transactions', target: txn },
  { method: 'POST', url: '/txn/:id/abort', role: 'write', summary: 'abort {reason?}', tag: 'transactions', target: txn },
];

export const routeKey = (method: string, url: string): string => `${method} ${url}`;
export const ROUTE_INDEX: ReadonlyMap<string, RouteRule> = new Map(ROUTES.map((r) => [routeKey(r.method, r.url), r]));
