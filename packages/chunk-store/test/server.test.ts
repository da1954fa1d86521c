import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { chunkKey } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, buildApp, encodeBatch, decodeBatch, BATCH_CONTENT_TYPE, loadHasher, type Hasher } from '../src/index.js';

describe('chunk-store service routes', () => {
  let app: FastifyInstance;
  let objects: MemoryObjectStore;
  let hasher: Hasher;
  beforeAll(async () => {
    hasher = await loadHasher();
    objects = new MemoryObjectStore();
    app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects, maxChunkBytes: 1024 * 1024, maxBatchBytes: 2 * 1024 * 1024 });
  });
  afterAll(async () => {
    await app.close();
  });

  const octets = { 'content-type': 'application/octet-stream' };

  it('PUT by hash verifies on the server and GET returns the bytes', async () => {
    const data = randomBytes(5000);
    const hash = hasher.hash(data);
    const put = await app.inject({ method: 'PUT', url: `/chunks/${hash}`, headers: octets, payload: data });
    expect(put.statusCode).toBe(201);
    const get = await app.inject({ method: 'GET', url: `/chunks/${hash}` });
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload.equals(data)).toBe(true);
    const head = await app.inject({ method: 'HEAD', url: `/chunks/${hash}` });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('5000');
  });

  it('POST returns the hash of the body', async () => {
    const data = randomBytes(100);
    const res = await app.inject({ method: 'POST', url: '/chunks', headers: octets, payload: data });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ hash: hasher.hash(data) });
  });

  it('answers a mismatched upload with 422 HASH_MISMATCH and stores nothing', async () => {
    const data = randomBytes(100);
    const claimed = hasher.hash(randomBytes(100));
    const res = await app.inject({ method: 'PUT', url: `/chunks/${claimed}`, headers: octets, payload: data });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ statusCode: 422, code: 'HASH_MISMATCH' });
    expect(await objects.head(chunkKey(claimed))).toBeUndefined();
    expect(await objects.head(chunkKey(hasher.hash(data)))).toBeUndefined();
  });

  it('answers malformed hashes with 400 INVALID_HASH', async () => {
    for (const url of ['/chunks/abc', `/chunks/${'A'.repeat(64)}`, `/chunks/${'a'.repeat(63)}%2e`]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('INVALID_HASH');
    }
    const missing = await app.inject({ method: 'POST', url: '/chunks/missing', payload: { hashes: ['nope'] } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().code).toBe('INVALID_HASH');
  });

  it('answers unknown chunks with 404 CHUNK_NOT_FOUND', async () => {
    const hash = hasher.hash(randomBytes(10));
    const res = await app.inject({ method: 'GET', url: `/chunks/${hash}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'CHUNK_NOT_FOUND', message: expect.stringContaining(hash) });
    expect((await app.inject({ method: 'HEAD', url: `/chunks/${hash}` })).statusCode).toBe(404);
  });

  it('answers oversized bodies with 413 PAYLOAD_TOO_LARGE', async () => {
    const data = randomBytes(1024 * 1024 + 1);
    const res = await app.inject({ method: 'PUT', url: `/chunks/${hasher.hash(data)}`, headers: octets, payload: data });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
    const batch = await app.inject({ method: 'POST', url: '/chunks/batch', headers: { 'content-type': BATCH_CONTENT_TYPE }, payload: encodeBatch([data, data]) });
    expect(batch.statusCode).toBe(413);
  });

  it('answers malformed JSON and batch bodies with 400 and a code', async () => {
    const badJson = await app.inject({ method: 'POST', url: '/chunks/missing', headers: { 'content-type': 'application/json' }, payload: '{"hashes": [' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().code).toBe('INVALID_ARGUMENT');
    const noField = await app.inject({ method: 'POST', url: '/chunks/missing', payload: { hash: [] } });
    expect(noField.statusCode).toBe(400);
    const badBatch = await app.inject({ method: 'POST', url: '/chunks/batch', headers: { 'content-type': BATCH_CONTENT_TYPE }, payload: Buffer.from([0, 0, 0, 9, 1]) });
    expect(badBatch.statusCode).toBe(400);
    expect(badBatch.json().code).toBe('INVALID_ARGUMENT');
  });

  it('stores and fetches batches, and reports which hashes are missing', async () => {
    const chunks = Array.from({ length: 10 }, () => randomBytes(300));
    const put = await app.inject({ method: 'POST', url: '/chunks/batch', headers: { 'content-type': BATCH_CONTENT_TYPE }, payload: encodeBatch(chunks) });
    expect(put.statusCode).toBe(201);
    const hashes = put.json().hashes as string[];
    expect(hashes).toEqual(chunks.map((c) => hasher.hash(c)));
    const absent = hasher.hash(randomBytes(5));
    const missing = await app.inject({ method: 'POST', url: '/chunks/missing', payload: { hashes: [...hashes, absent] } });
    expect(missing.json()).toEqual({ missing: [absent] });
    const got = await app.inject({ method: 'POST', url: '/chunks/batch/get', payload: { hashes } });
    decodeBatch(got.rawPayload).forEach((b, i) => expect(Buffer.from(b).equals(chunks[i] as Buffer)).toBe(true));
  });

  it('serves a corrupt chunk as 500 CHUNK_CORRUPT, never its bytes', async () => {
    const data = randomBytes(1000);
    const hash = hasher.hash(data);
    await objects.put(chunkKey(hash), randomBytes(1000));
    const res = await app.inject({ method: 'GET', url: `/chunks/${hash}` });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'CHUNK_CORRUPT' });
  });

  it('has health and readiness routes and typed 404s for unknown routes', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const nope = await app.inject({ method: 'GET', url: '/nope' });
    expect(nope.statusCode).toBe(404);
    expect(nope.json().code).toBe('NOT_FOUND');
  });
});
