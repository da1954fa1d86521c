import type { FastifyPluginAsync } from 'fastify';
import type { QueryEngine, QueryOptions } from '../../query-engine.js';

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

interface SqlBody {
  sql: string;
  branch?: string;
  ref?: string;
  asOf?: string | number;
  versions?: Record<string, number>;
  timeoutMs?: number;
  maxRows?: number;
  maxBytes?: number;
}

/** `POST /repos/:repo/sql`: one QueryEngine call; JSON by default, Arrow IPC when the client accepts it. */
export const sqlRoutes: FastifyPluginAsync<{ engine: QueryEngine }> = async (app, { engine }) => {
  app.post<{ Params: { repo: string }; Body: SqlBody }>('/repos/:repo/sql', {
    schema: {
      body: {
        type: 'object', required: ['sql'], additionalProperties: false,
        properties: {
          sql: { type: 'string', minLength: 1 },
          branch: { type: 'string' }, ref: { type: 'string' }, asOf: { anyOf: [{ type: 'string' }, { type: 'number' }] },
          versions: { type: 'object', additionalProperties: { type: 'integer', minimum: 1 } },
          timeoutMs: { type: 'integer', minimum: 1 }, maxRows: { type: 'integer', minimum: 1 }, maxBytes: { type: 'integer', minimum: 1 },
        },
      },
    },
  }, async (req, reply) => {
    const { sql, ...rest } = req.body;
    const opts: QueryOptions = {};
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (opts as Record<string, unknown>)[k] = v;
    // A client that goes away before the answer (closed tab, Ctrl-C, its own timeout) cancels the query,
    // so it stops holding a DuckDB connection, worker threads and cache pins for nobody.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) gone.abort(new DOMException('the client closed the connection', 'AbortError'));
    };
    reply.raw.once('close', onClose);
    opts.signal = gone.signal;
    let result;
    try {
      result = await engine.query(req.params.repo, sql, opts);
    } finally {
      reply.raw.off('close', onClose);
    }
    if ((req.headers.accept ?? '').includes(ARROW_STREAM)) {
      return reply.header('content-type', ARROW_STREAM).send(Buffer.from(result.toArrowIPC()));
    }
    return { columns: result.columns, rows: result.rows, rowCount: result.rowCount, tables: result.tables };
  });
};
