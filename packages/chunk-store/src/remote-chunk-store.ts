import {
  type Hash,
  HttpClient,
  type HttpClientOptions,
  assertHash,
  mapLimit,
  ChunkCorruptError,
  HashMismatchError,
} from '@armillaria/core';
import { PUT_FIRST_BYTES, type ChunkStat, type ChunkStore, type GetOptions, type PutBatchOptions } from './chunk-store.js';
import type { Hasher } from './hasher.js';
import { BATCH_CONTENT_TYPE, decodeBatch, encodeBatch, groupBySize } from './batch-framing.js';
import { verifyingStream } from './verifying-stream.js';

export interface RemoteChunkStoreOptions extends HttpClientOptions {
  /** Hashes locally, so uploads name their hash, only missing chunks are sent, and reads are re-verified end to end. */
  hasher: Hasher;
  /** Bytes per batch request (default 32 MiB). */
  batchBytes?: number;
  /** Batch requests in flight (default 4). */
  concurrency?: number;
}

/**
 * Hashes per `/chunks/missing` request. The server HEADs each one and renews old ones (HEAD + self-copy on
 * S3, ~3-5 ms each under load): 2,000 keep a request to seconds, well inside the client's timeout.
 */
const MISSING_PER_REQUEST = 2000;

/** `ChunkStore` over the chunk-store service's HTTP API; errors come back as the same typed errors. */
export class RemoteChunkStore implements ChunkStore {
  private readonly http: HttpClient;
  private readonly hasher: Hasher;
  private readonly batchBytes: number;
  private readonly concurrency: number;

  constructor(options: RemoteChunkStoreOptions) {
    this.http = new HttpClient(options);
    this.hasher = options.hasher;
    this.batchBytes = options.batchBytes ?? 32 * 1024 * 1024;
    this.concurrency = options.concurrency ?? 4;
  }

  async put(bytes: Uint8Array, opts?: { expectedHash?: Hash }): Promise<Hash> {
    const [hash] = await this.hasher.hashMany([bytes]);
    if (opts?.expectedHash !== undefined) {
      assertHash(opts.expectedHash);
      if (opts.expectedHash !== hash) throw new HashMismatchError(opts.expectedHash, hash as Hash);
    }
    await this.http.request(`/chunks/${hash}`, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
      idempotent: true,
    });
    return hash as Hash;
  }

  async putBatch(chunks: readonly Uint8Array[], opts?: PutBatchOptions): Promise<Hash[]> {
    const hashes = await this.hasher.hashMany(chunks);
    // Small chunks are sent without asking first, as the service's store puts them (PUT_FIRST_BYTES): a
    // commit's tree and commit cost one request, not two.
    const large = opts?.knownMissing ? [] : hashes.filter((_, i) => (chunks[i] as Uint8Array).byteLength > PUT_FIRST_BYTES);
    const present = new Set(large);
    if (large.length > 0) for (const h of await this.missing(large)) present.delete(h);
    const want = new Set(hashes.filter((h) => !present.has(h)));
    const toSend: Uint8Array[] = [];
    hashes.forEach((h, i) => {
      if (want.delete(h)) toSend.push(chunks[i] as Uint8Array);
    });
    const groups = groupBySize(toSend, (c) => c.byteLength + 4, this.batchBytes);
    await mapLimit(groups, this.concurrency, async (group) => {
      await this.http.request('/chunks/batch', {
        method: 'POST',
        body: encodeBatch(group),
        headers: { 'content-type': BATCH_CONTENT_TYPE },
        idempotent: true,
      });
    });
    return hashes;
  }

  async get(hash: Hash, opts?: GetOptions): Promise<Uint8Array> {
    assertHash(hash);
    const url = opts?.verify === false ? `/chunks/${hash}?verify=false` : `/chunks/${hash}`;
    const res = await this.http.request(url, opts?.signal ? { signal: opts.signal } : {});
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (opts?.verify !== false) {
      const [actual] = await this.hasher.hashMany([bytes]);
      if (actual !== hash) throw new ChunkCorruptError(hash, actual as Hash);
    }
    return bytes;
  }

  async getBatch(hashes: readonly Hash[], opts?: GetOptions): Promise<Uint8Array[]> {
    hashes.forEach((h) => assertHash(h));
    // Sizes are unknown up front: bound each request by count, and let the server stream the reply.
    const groups = groupBySize(hashes, () => 1, 512);
    const parts = await mapLimit(groups, this.concurrency, async (group) => {
      const res = await this.http.request('/chunks/batch/get', {
        method: 'POST',
        body: JSON.stringify({ hashes: group }),
        headers: { 'content-type': 'application/json' },
        idempotent: true,
        ...(opts?.signal ? { signal: opts.signal } : {}),
      });
      return decodeBatch(new Uint8Array(await res.arrayBuffer()));
    });
    const out = parts.flat();
    if (opts?.verify !== false) {
      const actual = await this.hasher.hashMany(out);
      actual.forEach((a, i) => {
        if (a !== hashes[i]) throw new ChunkCorruptError(hashes[i] as Hash, a);
      });
    }
    return out;
  }

  async has(hash: Hash): Promise<boolean> {
    return (await this.stat(hash)) !== undefined;
  }

  async missing(hashes: readonly Hash[]): Promise<Hash[]> {
    hashes.forEach((h) => assertHash(h));
    const unique = [...new Set(hashes)];
    const groups = groupBySize(unique, () => 1, MISSING_PER_REQUEST, MISSING_PER_REQUEST);
    const answers = await mapLimit(groups, this.concurrency, (group) =>
      this.http.json<{ missing: Hash[] }>('/chunks/missing', { method: 'POST', json: { hashes: group }, idempotent: true }),
    );
    return answers.flatMap((a) => a.missing);
  }

  async stat(hash: Hash): Promise<ChunkStat | undefined> {
    assertHash(hash);
    const res = await this.http.request(`/chunks/${hash}`, { method: 'HEAD', okStatuses: [404] });
    if (res.status === 404) return undefined;
    const modified = res.headers.get('last-modified');
    return { hash, size: Number(res.headers.get('content-length') ?? 0), modifiedAt: modified ? Date.parse(modified) : 0 };
  }

  async getStream(hash: Hash, opts?: GetOptions): Promise<AsyncIterable<Uint8Array>> {
    assertHash(hash);
    const res = await this.http.request(`/chunks/${hash}`, opts?.signal ? { signal: opts.signal } : {});
    const body = res.body as unknown as AsyncIterable<Uint8Array>;
    if (opts?.verify === false) return body;
    return verifyingStream(body, this.hasher, (actual) => {
      if (actual !== hash) throw new ChunkCorruptError(hash, actual);
    });
  }

  async putStream(body: AsyncIterable<Uint8Array>, opts?: { expectedHash?: Hash }): Promise<Hash> {
    if (opts?.expectedHash !== undefined) {
      assertHash(opts.expectedHash);
      await this.http.request(`/chunks/${opts.expectedHash}`, {
        method: 'PUT',
        body,
        headers: { 'content-type': 'application/octet-stream' },
      });
      return opts.expectedHash;
    }
    const { hash } = await this.http.json<{ hash: Hash }>('/chunks', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return hash;
  }

  async *list(opts?: { startAfter?: Hash }): AsyncIterable<ChunkStat> {
    let after = opts?.startAfter;
    if (after !== undefined) assertHash(after);
    for (;;) {
      const query = new URLSearchParams({ limit: '1000' });
      if (after !== undefined) query.set('startAfter', after);
      const page = await this.http.json<{ chunks: ChunkStat[]; next?: Hash }>(`/chunks?${query}`);
      yield* page.chunks;
      if (!page.next) return;
      after = page.next;
    }
  }

  async delete(hashes: readonly Hash[]): Promise<void> {
    hashes.forEach((h) => assertHash(h));
    for (const group of groupBySize(hashes, () => 1, 10_000)) {
      await this.http.request('/chunks/delete', {
        method: 'POST',
        body: JSON.stringify({ hashes: group }),
        headers: { 'content-type': 'application/json' },
        idempotent: true,
      });
    }
  }

  async close(): Promise<void> {}
}
