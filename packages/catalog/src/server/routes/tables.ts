import { InvalidArgumentError } from '@armillaria/core';
import type { FastifyPluginAsync } from 'fastify';
import type { CatalogApi, CreateTableOptions, NewColumn, ReadTableOptions, RestoreTableOptions, TableRefOptions, WriteOptions } from '../../catalog-api.js';
import { body, intArg, listArg, query, refOptions, rowsFromBody, sendArrow, writeOptions, type Query } from '../http-args.js';

type TableParams = { repo: string; table: string };
const ROW_OPS = ['write', 'append', 'upsert', 'delete'] as const;

function tableRef(q: Query): TableRefOptions {
  const out: TableRefOptions = refOptions(q);
  const version = intArg(q, 'version');
  if (version !== undefined) out.version = version;
  return out;
}

/** Tables: list, create (Arrow or JSON), drop, read (Arrow out), row operations (Arrow or JSON in), add column, compact. */
export const tableRoutes: FastifyPluginAsync<{ catalog: CatalogApi }> = async (app, { catalog }) => {
  app.get<{ Params: { repo: string } }>('/repos/:repo/tables', async (req) => ({ tables: await catalog.listTables(req.params.repo, refOptions(query(req))) }));

  app.post<{ Params: TableParams }>('/repos/:repo/tables/:table', async (req, reply) => {
    const q = query(req);
    let opts: CreateTableOptions;
    if (req.body instanceof Uint8Array) {
      opts = { ...writeOptions(q), rows: rowsFromBody(req) };
      const pk = listArg(q, 'primaryKey');
      if (pk) opts.primaryKey = pk;
    } else {
      const b = body<Omit<CreateTableOptions, 'rows'> & { rows?: Array<Record<string, unknown>> }>(req);
      opts = { ...b };
    }
    return reply.status(201).send(await catalog.createTable(req.params.repo, req.params.table, opts));
  });

  app.delete<{ Params: TableParams }>('/repos/:repo/tables/:table', async (req) => catalog.dropTable(req.params.repo, req.params.table, writeOptions(query(req))));

  app.get<{ Params: TableParams }>('/repos/:repo/tables/:table', async (req, reply) => {
    const q = query(req);
    const opts: ReadTableOptions = tableRef(q);
    const columns = listArg(q, 'columns');
    if (columns) opts.columns = columns;
    if (q.range !== undefined) {
      try {
        opts.range = JSON.parse(q.range) as ReadTableOptions['range'];
      } catch {
        throw new InvalidArgumentError('range must be JSON {column, min?, max?}');
      }
    }
    return sendArrow(reply, await catalog.read(req.params.repo, req.params.table, opts));
  });
  app.get<{ Params: TableParams }>('/repos/:repo/tables/:table/version', async (req) => catalog.tableVersion(req.params.repo, req.params.table, tableRef(query(req))));
  app.get<{ Params: TableParams }>('/repos/:repo/tables/:table/describe', async (req) => catalog.describeTable(req.params.repo, req.params.table, tableRef(query(req))));

  app.post<{ Params: TableParams & { op: string } }>('/repos/:repo/tables/:table/:op', async (req) => {
    const { repo, table, op } = req.params;
    const opts = writeOptions(query(req));
    if (op === 'columns') {
      const b = body<NewColumn & { branch?: string; message?: string; author?: string; txnId?: string }>(req);
      const { name, type, defaultValue, ...rest } = b;
      const column: NewColumn = { name, type };
      if (defaultValue !== undefined) column.defaultValue = defaultValue;
      return catalog.addColumn(repo, table, column, { ...rest, ...opts });
    }
    if (op === 'compact') {
      // Options in the JSON body ({branch?, message?, author?}) or the query, the query winning.
      const fromBody: WriteOptions = stringFields(body(req), ['branch', 'message', 'author']);
      return catalog.compactTable(repo, table, { ...fromBody, ...opts });
    }
    if (op === 'restore') {
      // {version?, ref?, asOf?, branch?, message?, author?} in the JSON body; the query's write options win.
      const b = body(req);
      const restore: RestoreTableOptions = stringFields(b, ['branch', 'message', 'author', 'ref']);
      if (b.version !== undefined) {
        if (!Number.isInteger(b.version)) throw new InvalidArgumentError('version must be an integer', { details: { field: 'version' } });
        restore.version = b.version as number;
      }
      if (b.asOf !== undefined) {
        if (typeof b.asOf !== 'string' && typeof b.asOf !== 'number') throw new InvalidArgumentError('asOf must be a time string or ms', { details: { field: 'asOf' } });
        restore.asOf = b.asOf;
      }
      return catalog.restoreTable(repo, table, { ...restore, ...opts });
    }
    if (!(ROW_OPS as readonly string[]).includes(op)) throw new InvalidArgumentError(`unknown table operation ${JSON.stringify(op)}`, { details: { op } });
    const rows = rowsFromBody(req);
    switch (op as (typeof ROW_OPS)[number]) {
      case 'write': return catalog.write(repo, table, rows, opts);
      case 'append': return catalog.append(repo, table, rows, opts);
      case 'upsert': return catalog.upsert(repo, table, rows, opts);
      case 'delete': return catalog.deleteRows(repo, table, rows, opts);
    }
  });
};

/** The named fields of a JSON body that are present, each checked to be a string (INVALID_ARGUMENT otherwise). */
function stringFields<K extends string>(b: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    if (b[k] === undefined) continue;
    if (typeof b[k] !== 'string') throw new InvalidArgumentError(`${k} must be a string`, { details: { field: k } });
    out[k] = b[k] as string;
  }
  return out;
}
