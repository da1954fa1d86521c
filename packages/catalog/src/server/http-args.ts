import { InvalidArgumentError } from '@armillaria/core';
import { tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Rows, WriteOptions } from '../catalog-api.js';

/** Table data over HTTP: Arrow IPC streams, both ways. */
export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

export type Query = Record<string, string | undefined>;

export function query(req: FastifyRequest): Query {
  return (req.query ?? {}) as Query;
}

export function body<T = Record<string, unknown>>(req: FastifyRequest): T {
  const b = req.body;
  if (b === undefined || b === null) return {} as T;
  if (typeof b !== 'object' || Array.isArray(b)) throw new InvalidArgumentError('expected a JSON object body');
  return b as T;
}

export function intArg(q: Query, name: string): number | undefined {
  const raw = q[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw)) throw new InvalidArgumentError(`query parameter ${name} must be an integer, got ${JSON.stringify(raw)}`, { details: { [name]: raw } });
  return Number(raw);
}

export function listArg(q: Query, name: string): string[] | undefined {
  const raw = q[name];
  return raw === undefined || raw === '' ? undefined : raw.split(',');
}

/** `branch`, `message`, `author`, `txnId` from the query string. */
export function writeOptions(q: Query): WriteOptions {
  const out: WriteOptions = {};
  if (q.branch !== undefined) out.branch = q.branch;
  if (q.message !== undefined) out.message = q.message;
  if (q.author !== undefined) out.author = q.author;
  if (q.txnId !== undefined) out.txnId = q.txnId;
  return out;
}

export function refOptions(q: Query): { ref?: string; asOf?: string } {
  const out: { ref?: string; asOf?: string } = {};
  if (q.ref !== undefined) out.ref = q.ref;
  if (q.asOf !== undefined) out.asOf = q.asOf;
  return out;
}

/** Rows from an Arrow IPC body, or `{rows: [...]}` JSON (plain objects, converted by the catalog). */
export function rowsFromBody(req: FastifyRequest): Rows {
  if (req.body instanceof Uint8Array) return tableFromIPC(req.body);
  const rows = body<{ rows?: unknown }>(req).rows;
  if (!Array.isArray(rows)) throw new InvalidArgumentError(`expected an ${ARROW_STREAM} body or a JSON body {rows: [...]}`);
  return rows as Rows;
}

export function sendArrow(reply: FastifyReply, table: Table): FastifyReply {
  return reply.header('content-type', ARROW_STREAM).send(Buffer.from(tableToIPC(table, 'stream')));
}
