import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { chunkKey, sleep } from '@armillaria/core';
import { FsObjectStore, ObjectChunkStore, buildApp, loadHasher, type Hasher } from '../src/index.js';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  return out;
}

describe('an upload killed half-way', () => {
  let dir: string;
  let app: FastifyInstance;
  let objects: FsObjectStore;
  let hasher: Hasher;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'arm-killed-upload-'));
    hasher = await loadHasher();
    objects = new FsObjectStore({ root: dir });
    app = await buildApp({ chunks: new ObjectChunkStore({ objects, hasher }), objects, streamThresholdBytes: 1024 * 1024 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['PUT by hash', 'POST'])('%s leaves nothing under a real name and no temp file behind', async (mode) => {
    const data = randomBytes(16 * 1024 * 1024);
    const hash = hasher.hash(data);
    const req = request({
      host: '127.0.0.1',
      port,
      method: mode === 'POST' ? 'POST' : 'PUT',
      path: mode === 'POST' ? '/chunks' : `/chunks/${hash}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': data.length },
    });
    req.on('error', () => {});
    req.write(data.subarray(0, 6 * 1024 * 1024));
    await sleep(300);
    req.destroy();
    // Give the server time to notice the reset and abort its write.
    for (let i = 0; i < 50 && (await listFiles(dir)).length > 0; i++) await sleep(100);
    expect(await objects.head(chunkKey(hash))).toBeUndefined();
    expect(await listFiles(dir)).toEqual([]);
  });
});
