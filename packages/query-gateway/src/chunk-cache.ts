import { mkdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { assertHash, mapLimit, recordCacheLookup, type Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';

export interface ChunkCacheOptions {
  chunks: ChunkStore;
  /** Directory of cached Parquet chunks, created if absent. The DuckDB sandbox may read only here. */
  dir: string;
  /** Chunks fetched at once (default 8). */
  concurrency?: number;
}

export interface FetchResult {
  /** Local paths, in input order. */
  paths: string[];
  /** How many had to be fetched from the chunk store (the rest were cached). */
  fetched: number;
}

/**
 * Data chunks on local disk, named by hash. Chunks are immutable, so an entry is never invalidated; it
 * appears under its final name only once complete (temp file + rename) and only after the chunk store
 * verified its hash, so a reader never sees partial or corrupt bytes. Concurrent requests for one hash
 * share one fetch.
 */
export class ChunkCache {
  readonly dir: string;
  private readonly store: ChunkStore;
  private readonly concurrency: number;
  private readonly present = new Set<Hash>();
  private readonly inflight = new Map<Hash, Promise<void>>();
  private ready: Promise<void> | undefined;
  private seq = 0;

  constructor(opts: ChunkCacheOptions) {
    this.store = opts.chunks;
    this.dir = resolve(opts.dir);
    this.concurrency = opts.concurrency ?? 8;
  }

  pathOf(hash: Hash): string {
    assertHash(hash);
    return join(this.dir, `${hash}.parquet`);
  }

  /** Makes every chunk local (fetching the missing ones, verified) and returns their paths. */
  async fetch(hashes: readonly Hash[], opts: { signal?: AbortSignal } = {}): Promise<FetchResult> {
    for (const h of hashes) assertHash(h);
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.ready;
    let fetched = 0;
    await mapLimit([...new Set(hashes)], this.concurrency, async (hash) => {
      if (this.present.has(hash)) {
        recordCacheLookup('query-chunks', true);
        return;
      }
      let p = this.inflight.get(hash);
      if (!p) {
        p = this.load(hash, opts.signal).then((didFetch) => {
          recordCacheLookup('query-chunks', !didFetch);
          if (didFetch) fetched++;
          this.present.add(hash);
        }).finally(() => this.inflight.delete(hash));
        this.inflight.set(hash, p);
      }
      await p;
    });
    return { paths: hashes.map((h) => this.pathOf(h)), fetched };
  }

  private async load(hash: Hash, signal: AbortSignal | undefined): Promise<boolean> {
    const path = this.pathOf(hash);
    if (await stat(path).then((s) => s.isFile(), () => false)) return false;
    const bytes = await this.store.get(hash, signal ? { signal } : {});
    const tmp = join(this.dir, `.${hash}.${process.pid}.${++this.seq}.tmp`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return true;
  }
}
