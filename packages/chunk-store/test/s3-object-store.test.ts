import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import { hasService, needsServices } from '@armillaria/testkit';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../src/index.js';
import { objectStoreContract, pseudoRandomStream } from './object-store.contract.js';

const endpoint = process.env.ARMILLARIA_S3_ENDPOINT;
const accessKeyId = process.env.ARMILLARIA_S3_ACCESS_KEY ?? 'minioadmin';
const secretAccessKey = process.env.ARMILLARIA_S3_SECRET_KEY ?? 'minioadmin';
const MiB = 1 << 20;

/** One bucket for this file; every test empties it afterwards. */
const bucket = `armillaria-s3-store-${randomBytes(4).toString('hex')}`;

function options(extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  // A threshold and part size small enough for the 12-20 MiB contract bodies to go multipart.
  return { endpoint: endpoint as string, region: 'us-east-1', bucket, accessKeyId, secretAccessKey, multipartThresholdBytes: 6 * MiB, partSizeBytes: 5 * MiB, ...extra };
}

let bucketReady: Promise<void> | undefined;
async function openStore(extra: Partial<S3ObjectStoreOptions> = {}): Promise<S3ObjectStore> {
  const store = new S3ObjectStore(options(extra));
  bucketReady ??= store.ensureBucket();
  await bucketReady;
  return store;
}

async function empty(store: S3ObjectStore): Promise<void> {
  const keys: string[] = [];
  for await (const info of store.list('')) keys.push(info.key);
  await store.deleteMany(keys);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isArmillariaError(err)) return err.code;
    throw err;
  }
  return 'RESOLVED';
}

// A real S3 (MinIO) is what checks the signatures; npm test starts one.
describe.skipIf(!hasService('s3'))(`S3ObjectStore on MinIO ${needsServices('s3')}`, () => {
  objectStoreContract('s3', async () => {
    const store = await openStore();
    return {
      store,
      cleanup: async () => {
        await empty(store);
        await store.close();
      },
    };
  });

  it('keeps stores with different prefixes apart and strips the prefix from listed keys', async () => {
    const a = await openStore({ prefix: 'tenant-a' });
    const b = await openStore({ prefix: 'tenant-b/' });
    try {
      expect(a.description).toBe(`s3://${bucket}/tenant-a/`);
      await a.put('x/1', Buffer.from('a1'));
      await b.put('x/1', Buffer.from('b1'));
      expect(Buffer.from(await a.get('x/1')).toString()).toBe('a1');
      expect(Buffer.from(await b.get('x/1')).toString()).toBe('b1');
      expect((await collectKeys(a.list('')))).toEqual(['x/1']);
      expect((await collectKeys(a.list('x/', { startAfter: 'x/0' })))).toEqual(['x/1']);
      // The prefix counts towards S3's 1024-byte key limit.
      const longest = Array.from({ length: 5 }, () => 'k'.repeat(204)).join('/'); // 1024 bytes: valid alone, too long after 'tenant-a/'
      expect(await codeOf(a.put(longest, Buffer.from('x')))).toBe(ErrorCode.InvalidArgument);
      expect(await codeOf(a.put(longest.slice(9), Buffer.from('x')))).toBe('RESOLVED');
    } finally {
      await empty(a);
      await empty(b);
      await a.close();
      await b.close();
    }
  });

  it('aborts the multipart upload of a failed stream, leaving no parts behind', async () => {
    const store = await openStore();
    try {
      await expect(store.putStream('mpu/failed', pseudoRandomStream(20 * MiB, 3, MiB, 12 * MiB))).rejects.toThrow('source failed mid-stream');
      const raw = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
      try {
        const out = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mpu/' }));
        expect(out.Uploads ?? []).toEqual([]);
      } finally {
        raw.destroy();
      }
      expect(await store.head('mpu/failed')).toBeUndefined();
    } finally {
      await empty(store);
      await store.close();
    }
  });

  it('creates a missing bucket with ensureBucket; ping fails before and passes after', async () => {
    const store = new S3ObjectStore(options({ bucket: `armillaria-ensure-${randomBytes(4).toString('hex')}` }));
    try {
      expect(await codeOf(store.ping())).toBe(ErrorCode.BackendUnavailable);
      expect(await codeOf(store.put('k', Buffer.from('x')))).toBe(ErrorCode.BackendUnavailable);
      await store.ensureBucket();
      await store.ensureBucket(); // idempotent
      await expect(store.ping()).resolves.toBeUndefined();
      await store.put('k', Buffer.from('x'));
      await store.delete('k');
    } finally {
      await store.close();
    }
  });

  it('reports wrong credentials as BACKEND_UNAVAILABLE without the secret in the message', async () => {
    const secret = `secret-${randomBytes(8).toString('hex')}`;
    const store = new S3ObjectStore(options({ secretAccessKey: secret, maxAttempts: 1 }));
    try {
      const err = await store.get('any/key').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isArmillariaError(err, ErrorCode.BackendUnavailable)).toBe(true);
      expect(String((err as Error).message)).not.toContain(secret);
      expect(JSON.stringify(err)).not.toContain(secret);
    } finally {
      await store.close();
    }
  });

  it('rejects bad options with INVALID_ARGUMENT', () => {
    expect(() => new S3ObjectStore(options({ bucket: '' }))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => new S3ObjectStore(options({ partSizeBytes: MiB }))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => new S3ObjectStore(options({ maxConcurrency: 0 }))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => new S3ObjectStore(options({ prefix: '../up' }))).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(() => new S3ObjectStore({ bucket, accessKeyId: 'only-one' })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
  });
  // GETs and HEADs go signed without the SDK client (s3-direct.ts); writes go through the SDK.
  it('reads and heads keys with characters SigV4 encodes, written through the SDK', async () => {
    const store = await openStore({ prefix: "odd prefix (1)" });
    try {
      for (const key of ["a b/c!d'e(f)g*h", 'ü/ß~x', 'x+y=z&w;v,u@t$s']) {
        const body = randomBytes(3000);
        const { etag } = await store.put(key, body);
        expect(Buffer.from(await store.get(key)), key).toEqual(body);
        const head = await store.head(key);
        expect(head?.size).toBe(3000);
        expect(head?.etag).toBe(etag);
        expect(Math.abs((head?.modifiedAt ?? 0) - Date.now())).toBeLessThan(120_000);
      }
      expect(await store.head('absent/key')).toBeUndefined();
      expect(await codeOf(store.get('absent/key'))).toBe(ErrorCode.ObjectNotFound);
    } finally {
      await empty(store);
      await store.close();
    }
  });
});

/** A loopback server answering like S3: each request gets the next scripted answer. */
interface SeenRequest { method: string; path: string; auth: string; headers: Record<string, string | string[] | undefined>; body: Buffer }

async function fakeS3(answers: Array<{ status: number; body?: string }>): Promise<{ url: string; seen: SeenRequest[]; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: String(req.headers.authorization ?? ''), headers: req.headers, body: Buffer.concat(parts) });
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      res.writeHead(a.status, { 'content-type': 'application/xml', 'x-amz-request-id': `req-${seen.length}`, etag: '"abc"', 'last-modified': new Date(0).toUTCString() });
      res.end(req.method === 'HEAD' ? undefined : a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

describe('S3ObjectStore reads against a scripted S3', () => {
  const xml = (code: string) => `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code} says the server</Message><RequestId>rid-1</RequestId></Error>`;

  it('retries 503 SlowDown and a 500, then returns the body; signs with the access key, never sends the secret', async () => {
    const s3 = await fakeS3([{ status: 503, body: xml('SlowDown') }, { status: 500, body: xml('InternalError') }, { status: 200, body: 'payload' }]);
    const store = new S3ObjectStore({ endpoint: s3.url, bucket: 'b', accessKeyId: 'AKIDTEST', secretAccessKey: 'not-in-requests', maxAttempts: 3 });
    try {
      expect(Buffer.from(await store.get('k/one')).toString()).toBe('payload');
      expect(s3.seen.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /b/k/one', 'GET /b/k/one', 'GET /b/k/one']);
      expect(s3.seen[0]!.auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=.*, Signature=[0-9a-f]{64}$/);
      expect(s3.seen.some((r) => r.auth.includes('not-in-requests'))).toBe(false);
    } finally {
      await store.close();
      await s3.close();
    }
  });

  it('puts with the conditions and content type given, the payload hash signed over plain HTTP; 412 is PRECONDITION_FAILED', async () => {
    const s3 = await fakeS3([{ status: 200 }, { status: 412, body: xml('PreconditionFailed') }]);
    const store = new S3ObjectStore({ endpoint: s3.url, bucket: 'b', accessKeyId: 'k', secretAccessKey: 's' });
    try {
      const body = Buffer.from('some bytes');
      expect(await store.put('k/new', body, { ifNoneMatch: '*', contentType: 'application/x-test' })).toEqual({ etag: 'abc' });
      const put = s3.seen[0]!;
      expect([put.method, put.path, put.headers['if-none-match'], put.headers['content-type'], put.body.toString()]).toEqual(['PUT', '/b/k/new', '*', 'application/x-test', 'some bytes']);
      expect(put.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
      expect(put.auth).toContain('if-none-match');
      expect(await codeOf(store.put('k/new', body, { ifMatch: 'abc' }))).toBe(ErrorCode.PreconditionFailed);
      expect(s3.seen[1]!.headers['if-match']).toBe('"abc"');
    } finally {
      await store.close();
      await s3.close();
    }
  });

  it('maps answers to typed errors without retrying what a retry cannot fix', async () => {
    const cases: Array<[number, string, string]> = [[404, 'NoSuchKey', ErrorCode.ObjectNotFound], [403, 'AccessDenied', ErrorCode.BackendUnavailable], [400, 'InvalidRequest', ErrorCode.Internal]];
    for (const [status, code, expected] of cases) {
      const s3 = await fakeS3([{ status, body: xml(code) }]);
      const store = new S3ObjectStore({ endpoint: s3.url, bucket: 'b', accessKeyId: 'k', secretAccessKey: 's', maxAttempts: 3 });
      try {
        const err = await store.get('k/x').then(() => undefined, (e: unknown) => e as Error & { code?: string });
        expect(err?.code, code).toBe(expected);
        if (status !== 404) expect(String(err?.message), code).toContain(code);
        expect(s3.seen.length, `${code}: one request`).toBe(1);
        expect(await store.head('k/x').then(() => 'answered', (e: { code?: string }) => e.code), `HEAD ${code}`).toBe(status === 404 ? 'answered' : expected);
      } finally {
        await store.close();
        await s3.close();
      }
    }
  });
});

describe('S3ObjectStore without a server', () => {
  it('reports an unreachable endpoint as BACKEND_UNAVAILABLE after its retries', async () => {
    // Port 9 (discard) on loopback: nothing listens there, so the connection is refused at once.
    const store = new S3ObjectStore({ endpoint: 'http://127.0.0.1:9', bucket: 'b', accessKeyId: 'k', secretAccessKey: 'not-in-errors', maxAttempts: 2 });
    try {
      const err = await store.get('a/b').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isArmillariaError(err, ErrorCode.BackendUnavailable)).toBe(true);
      expect(String((err as Error).message)).not.toContain('not-in-errors');
      expect(await codeOf(store.ping())).toBe(ErrorCode.BackendUnavailable);
      expect(await codeOf(store.put('a/b', Buffer.from('x')))).toBe(ErrorCode.BackendUnavailable);
    } finally {
      await store.close();
    }
  });
});

async function collectKeys(it: AsyncIterable<{ key: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x.key);
  return out;
}
