import type { FastifyPluginAsync } from 'fastify';
import { InvalidArgumentError } from '@armillaria/core';
import { tableToIPC } from 'apache-arrow';
import type { ColumnType } from '@armillaria/catalog';
import type { Isolation, TableSchema, TxnApi } from '../../txn-api.js';

export interface TxnRoutesOptions {
  txn: TxnApi;
}

/** What `POST /txn/:id/write` can stage. */
export const WRITE_OPS = ['write', 'append', 'upsert', 'delete', 'create', 'drop', 'addColumn'] as const;
export type WriteOp = (typeof WRITE_OPS)[number];

export interface WriteBody {
  table: string;
  op: WriteOp;
  rows?: Array<Record<string, unknown>>;
  schema?: TableSchema;
  primaryKey?: string[];
  column?: { name: string; type: ColumnType; defaultValue?: unknown };
}

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

/**
 * `/txn` routes: each one schema-checks its input and makes exactly one TxnApi call.
 * Rows travel as JSON objects (int64 as numbers or decimal strings); reads answer Arrow IPC.
 */
export const txnRoutes: FastifyPluginAsync<TxnRoutesOptions> = async (app, { txn }) => {
  app.post<{ Body: { repo: string; branch?: string; isolation?: Isolation; idleTimeoutMs?: number } }>('/txn/begin', {
    schema: {
      body: {
        type: 'object', required: ['repo'], additionalProperties: false,
        properties: { repo: { type: 'string' }, branch: { type: 'string' }, isolation: { type: 'string', enum: ['snapshot', 'serializable'] }, idleTimeoutMs: { type: 'integer', minimum: 1 } },
      },
    },
  }, async (req) => txn.begin(req.body));

  app.get<{ Params: { id: string } }>('/txn/:id', { schema: { params: idParams } }, async (req) => txn.status(req.params.id));

  app.get<{ Params: { id: string; table: string }; Querystring: { columns?: string } }>('/txn/:id/tables/:table', {
    schema: { params: { type: 'object', required: ['id', 'table'], properties: { id: { type: 'string' }, table: { type: 'string' } } } },
  }, async (req, reply) => {
    const columns = req.query.columns ? req.query.columns.split(',').filter(Boolean) : undefined;
    const table = await txn.read(req.params.id, req.params.table, columns ? { columns } : {});
    return reply.type('application/vnd.apache.arrow.stream').send(Buffer.from(tableToIPC(table, 'stream')));
  });

  app.post<{ Params: { id: string }; Body: WriteBody }>('/txn/:id/write', {
    schema: {
      params: idParams,
      body: {
        type: 'object', required: ['table', 'op'], additionalProperties: false,
        properties: {
          table: { type: 'string' }, op: { type: 'string', enum: [...WRITE_OPS] }, rows: { type: 'array', items: { type: 'object' } },
          schema: { type: 'object' }, primaryKey: { type: 'array', items: { type: 'string' } }, column: { type: 'object' },
        },
      },
    },
  }, async (req) => {
    const { id } = req.params;
    const b = req.body;
    const rows = (): Array<Record<string, unknown>> => {
      if (!b.rows) throw new InvalidArgumentError(`op ${b.op} needs rows`, { details: { field: 'rows' } });
      return b.rows;
    };
    switch (b.op) {
      case 'write': return txn.write(id, b.table, rows());
      case 'append': return txn.append(id, b.table, rows());
      case 'upsert': return txn.upsert(id, b.table, rows());
      case 'delete': return txn.deleteRows(id, b.table, rows());
      case 'drop': return txn.dropTable(id, b.table);
      case 'create':
        return txn.createTable(id, b.table, { ...(b.schema ? { schema: b.schema } : {}), ...(b.rows ? { rows: b.rows } : {}), ...(b.primaryKey ? { primaryKey: b.primaryKey } : {}) });
      case 'addColumn':
        if (!b.column) throw new InvalidArgumentError('op addColumn needs column', { details: { field: 'column' } });
        return txn.addColumn(id, b.table, b.column);
    }
  });

  app.post<{ Params: { id: string }; Body: { message?: string; author?: string; idempotencyKey?: string } | undefined }>('/txn/:id/commit', {
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { message: { type: 'string' }, author: { type: 'string' }, idempotencyKey: { type: 'string' } } },
    },
  }, async (req) => txn.commit(req.params.id, req.body ?? {}));

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/txn/:id/abort', {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string' } } } },
  }, async (req) => txn.abort(req.params.id, req.body?.reason));
};
