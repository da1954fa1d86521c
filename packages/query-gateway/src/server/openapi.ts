import { ROUTES } from './route-table.js';

/** OpenAPI 3.1 document built from the route table (the same one the access check reads). */
export function openApiDocument(info: { title?: string; version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params: string[] = [];
    const path = r.url.replace(/:(\w+)/g, (_m, name: string) => {
      params.push(name);
      return `{${name}}`;
    }).replace(/\*$/, () => {
      params.push('name');
      return '{name}';
    });
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      responses: {
        200: { description: 'OK' },
        default: { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
      'x-armillaria-role': r.role,
    };
    if (r.role === 'none') op.security = [];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title ?? 'Armillaria gateway', version: info.version ?? '0.1.0', description: 'SQL over versioned tables, table writes, branches, tags, history, merges, transactions and change subscriptions. Roles: read < write < admin per repo.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['statusCode', 'code', 'error', 'message'],
          properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

export function docsHtml(): string {
  const rows = ROUTES.map((r) => `<tr><td>${r.method}</td><td><code>${escape(r.url)}</code></td><td>${r.role}</td><td>${escape(r.summary)}</td></tr>`).join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Armillaria gateway API</title></head><body>
<h1>Armillaria gateway API</h1><p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3.1).</p>
<table border="1" cellpadding="4"><tr><th>method</th><th>path</th><th>role</th><th>what</th></tr>
${rows}
</table></body></html>`;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
