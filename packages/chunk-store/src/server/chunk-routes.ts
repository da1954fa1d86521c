import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { ArmillariaError, ErrorCode, InvalidArgumentError, assertHash, type Hash } from '@armillaria/core';
import type { ChunkStore } from '../chunk-store.js';
import { BATCH_CONTENT_TYPE, decodeBatch, encodeBatch } from '../batch-framing.js';

export interface ChunkRoutesOptions {
  chunks: ChunkStore;
  /** Largest single chunk accepted (default 64 MiB). */
  maxChunkBytes?: number;
  /** Largest batch body accepted (default 256 MiB). */
  maxBatchBytes?: number;
  /** Most hashes in one `missing`/`batch/get` request (default 100,000). */
  maxHashesPerRequest?: number;
  /** Bodies larger than this are streamed into the store instead of buffered (default 8 MiB). */
  streamThresholdBytes?: number;
}

/**
 * `/chunks` routes: each is one ChunkStore call. Binary bodies arrive as raw streams (the parser
 * below does not buffer), so a large upload is streamed and size limits are enforced as bytes arrive.
 */
export async function chunkRoutes(app: FastifyInstance, opts: ChunkRoutesOptions): Promise<void> {
  const { chunks } = opts;
  const maxChunk = opts.maxChunkBytes ?? 64 * 1024 * 1024;
  const maxBatch = opts.maxBatchBytes ?? 256 * 1024 * 1024;
  const maxHashes = opts.maxHashesPerRequest ?? 100_000;
  const streamThreshold = opts.streamThresholdBytes ?? 8 * 1024 * 1024;

  for (const type of ['application/octet-stream', BATCH_CONTENT_TYPE]) {
    app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
  }

  const hashParam = { type: 'object', required: ['hash'], properties: { hash: { type: 'string' } } } as const;
  const hashList = {
    type: 'object',
    required: ['hashes'],
    properties: { hashes: { type: 'array', items: { type: 'string' }, maxItems: maxHashes } },
  } as const;

  app.put<{ Params: { hash: string } }>('/chunks/:hash', { schema: { params: hashParam } }, async (request, reply) => {
    const expected = request.params.hash;
    assertHash(expected);
    const body = rawBody(request);
    const length = declaredLength(request, maxChunk);
    if (length !== undefined && length <= streamThreshold) {
      await chunks.put(await collect(body, maxChunk), { expectedHash: expected });
    } else {
      await chunks.putStream(limited(body, maxChunk), { expectedHash: expected });
    }
    return reply.status(201).send({ hash: expected });
  });

  app.post('/chunks', async (request, reply) => {
    const body = rawBody(request);
    const length = declaredLength(request, maxChunk);
    const hash =
      length !== undefined && length <= streamThreshold
        ? await chunks.put(await collect(body, maxChunk))
        : await chunks.putStream(limited(body, maxChunk));
    return reply.status(201).send({ hash });
  });

  // Declared before GET so Fastify does not derive a HEAD route from the GET one.
  app.head<{ Params: { hash: string } }>('/chunks/:hash', { schema: { params: hashParam } }, async (request, reply) => {
    const stat = await chunks.stat(request.params.hash);
    if (!stat) return reply.status(404).send();
    return reply.header('content-length', stat.size).header('last-modified', new Date(stat.modifiedAt).toUTCString()).status(200).send();
  });

  app.get<{ Params: { hash: string }; Querystring: { verify?: boolean } }>(
    '/chunks/:hash',
    { schema: { params: hashParam, querystring: { type: 'object', properties: { verify: { type: 'boolean' } } } } },
    async (request, reply) => {
    // `?verify=false` is for repair tools that want the raw bytes of a corrupt chunk.
    const bytes = await chunks.get(request.params.hash, { verify: request.query.verify !== false });
    return reply.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  },
  );

  app.post<{ Body: { hashes: string[] } }>('/chunks/missing', { schema: { body: hashList } }, async (request) => ({
    missing: await chunks.missing(request.body.hashes),
  }));

  app.post('/chunks/batch', async (request, reply) => {
    const declared = declaredLength(request, maxBatch);
    const body = await collect(rawBody(request), maxBatch, declared);
    const hashes = await chunks.putBatch(decodeBatch(body));
    return reply.status(201).send({ hashes });
  });

  app.post<{ Body: { hashes: string[] } }>('/chunks/batch/get', { schema: { body: hashList } }, async (request, reply) => {
    const found = await chunks.getBatch(request.body.hashes);
    return reply.type(BATCH_CONTENT_TYPE).send(encodeBatch(found));
  });

  app.get<{ Querystring: { startAfter?: string; limit?: number } }>(
    '/chunks',
    { schema: { querystring: { type: 'object', properties: { startAfter: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } } } },
    async (request) => {
      const limit = request.query.limit ?? 1000;
      const page: Array<{ hash: Hash; size: number; modifiedAt: number }> = [];
      const startAfter = request.query.startAfter;
      for await (const stat of chunks.list(startAfter !== undefined ? { startAfter } : undefined)) {
        page.push(stat);
        if (page.length >= limit) break;
      }
      return { chunks: page, next: page.length >= limit ? page[page.length - 1]?.hash : undefined };
    },
  );

  app.post<{ Body: { hashes: string[] } }>('/chunks/delete', { schema: { body: hashList } }, async (request, reply) => {
    request.body.hashes.forEach((h) => assertHash(h));
    await chunks.delete(request.body.hashes);
    return reply.status(204).send();
  });
}

function rawBody(request: FastifyRequest): Readable {
  const body = request.body as Readable | undefined;
  if (!body || typeof (body as Readable).on !== 'function') {
    throw new InvalidArgumentError('expected a binary body with content-type application/octet-stream');
  }
  return body;
}

function tooLarge(limit: number): ArmillariaError {
  return new ArmillariaError(ErrorCode.PayloadTooLarge, `body is larger than the ${limit}-byte limit of this endpoint`, { details: { limit } });
}

function declaredLength(request: FastifyRequest, limit: number): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`bad content-length ${header}`);
  if (n > limit) throw tooLarge(limit);
  return n;
}

async function* limited(source: AsyncIterable<Uint8Array>, limit: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const piece of source) {
    seen += piece.byteLength;
    if (seen > limit) throw tooLarge(limit);
    yield piece;
  }
}

async function collect(source: AsyncIterable<Uint8Array>, limit: number, expected?: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const piece of limited(source, limit)) parts.push(piece);
  const body = Buffer.concat(parts);
  if (expected !== undefined && body.length !== expected) throw new InvalidArgumentError(`body ended after ${body.length} of ${expected} bytes`);
  return body;
}
