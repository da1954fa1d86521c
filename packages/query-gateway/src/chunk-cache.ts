import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ArmillariaError, ErrorCode, InvalidArgumentError, assertHash, mapLimit, recordCacheLookup, type Hash } from '@armillaria/core';
import type { ChunkStore } from '@armillaria/chunk-store';
import { cacheMetrics } from './metrics.js';

export interface ChunkCacheOptions {
  chunks: ChunkStore;
  /** Directory of cached Parquet files, created if absent. The DuckDB sandbox may read only here. One engine per directory. */
  dir: string;
  /** Chunks fetched at once (default 8). */
  concurrency?: number;
  /**
   * Size bound of the cached files, in bytes (default `DEFAULT_CACHE_MAX_BYTES`). Past it the least
   * recently used files are deleted, never one pinned by a running query (see `lease`): pinned files
   * may exceed the bound for as long as they are pinned.
   */
  maxBytes?: number;
}

export const DEFAULT_CACHE_MAX_BYTES = 10 * 2 ** 30;

export interface FetchResult {
  /** Local paths, in input order. */
  paths: string[];
  /** How many had to be fetched from the chunk store (the rest were cached). */
  fetched: number;
}

/** Files pinned for one query (or one compaction): none is evicted until `release()`. Releasing twice is a no-op. */
export interface CacheLease {
  release(): void;
}

/** Cache statistics (also exported as metrics, see metrics.ts). */
export interface ChunkCacheStats {
  files: number;
  bytes: number;
  maxBytes: number;
  /** Files held by running queries or compactions. */
  pinned: number;
}

const CACHED_NAME = /^(?:v-)?[0-9a-f]{64}\.parquet$/;
const TEMP_NAME = /^\..*\.tmp$/;
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Data chunks (and compacted versions, see `Compactor`) on local disk, named by hash. Content never
 * changes, so an entry is never stale: it only leaves to keep the cache under `maxBytes`, least recently
 * used first, and never while a lease pins it. A file appears under its final name only once complete
 * (temp file + rename) and only after the chunk store verified its hash, so a reader never sees partial
 * or corrupt bytes. Concurrent requests for one hash share one fetch. Files found in the directory at
 * start are adopted (oldest first in the eviction order); leftover temp files of a crash are deleted.
 */
export class ChunkCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly store: ChunkStore;
  private readonly concurrency: number;
  /** Cached file name -> size, in least recently used order (a hit moves it to the end). */
  private readonly entries = new Map<string, number>();
  private readonly pins = new Map<string, number>();
  private readonly leases = new WeakMap<CacheLease, (name: string) => void>();
  private readonly inflight = new Map<Hash, Promise<void>>();
  /** Evicted files still being deleted: a new fetch of the same name waits, so the delete cannot hit the new file. */
  private readonly deleting = new Map<string, Promise<void>>();
  private total = 0;
  private ready: Promise<void> | undefined;
  private opened = false;
  private seq = 0;

  constructor(opts: ChunkCacheOptions) {
    this.store = opts.chunks;
    this.dir = resolve(opts.dir);
    this.concurrency = opts.concurrency ?? 8;
    this.maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes <= 0) {
      throw new InvalidArgumentError('cache maxBytes must be a positive integer', { details: { maxBytes: this.maxBytes } });
    }
  }

  pathOf(hash: Hash): string {
    assertHash(hash);
    return join(this.dir, `${hash}.parquet`);
  }

  /** A new lease: files looked up or fetched through it stay until it is released. */
  lease(): CacheLease {
    const names: string[] = [];
    let released = false;
    const lease: CacheLease = {
      release: () => {
        if (released) return;
        released = true;
        for (const name of names) {
          const n = (this.pins.get(name) ?? 1) - 1;
          if (n > 0) this.pins.set(name, n);
          else this.pins.delete(name);
        }
        // Files a query kept past the bound can go now.
        this.evictTo(this.maxBytes);
      },
    };
    this.leases.set(lease, (name) => {
      if (released) return;
      names.push(name);
      this.pins.set(name, (this.pins.get(name) ?? 0) + 1);
    });
    return lease;
  }

  /**
   * Makes every chunk local (fetching the missing ones, verified) and returns their paths. With a lease,
   * the chunks stay until it is released; without one they may be evicted at any time after this returns.
   * A full cache disk: BACKEND_UNAVAILABLE naming the directory (after evicting what it could).
   */
  async fetch(hashes: readonly Hash[], opts: { signal?: AbortSignal; lease?: CacheLease } = {}): Promise<FetchResult> {
    for (const h of hashes) assertHash(h);
    if (!this.opened) await this.open();
    let fetched = 0;
    const unique = [...new Set(hashes)];
    // Pinned before any await, so an eviction triggered by another query cannot take them from under this one.
    const pin = this.pinner(opts.lease);
    for (const hash of unique) pin?.(`${hash}.parquet`);
    // The warm path, without a task per chunk: everything is cached.
    if (unique.every((hash) => this.entries.has(`${hash}.parquet`))) {
      for (const hash of unique) {
        this.touch(`${hash}.parquet`);
        recordCacheLookup('query-chunks', true);
      }
      return { paths: hashes.map((h) => join(this.dir, `${h}.parquet`)), fetched: 0 };
    }
    await mapLimit(unique, this.concurrency, async (hash) => {
      if (this.touch(`${hash}.parquet`)) {
        recordCacheLookup('query-chunks', true);
        return;
      }
      let p = this.inflight.get(hash);
      if (!p) {
        recordCacheLookup('query-chunks', false);
        fetched++;
        p = this.load(hash, opts.signal).finally(() => this.inflight.delete(hash));
        this.inflight.set(hash, p);
      }
      await p;
    });
    // Files this fetch evicted are gone from disk when it returns (cheap: a few unlinks).
    await this.idle();
    return { paths: hashes.map((h) => this.pathOf(h)), fetched };
  }

  /** Pins chunks by hash, without fetching or counting a lookup (a chunk not cached stays absent), and returns their paths. */
  pinChunks(hashes: readonly Hash[], lease: CacheLease): string[] {
    const pin = this.pinner(lease)!;
    return hashes.map((h) => {
      const path = this.pathOf(h);
      pin(`${h}.parquet`);
      return path;
    });
  }

  /** The path of a cached file by name (a compacted version, `v-<hash>.parquet`), pinned by the lease; undefined when absent. */
  async lookupFile(name: string, lease?: CacheLease): Promise<string | undefined> {
    checkName(name);
    await this.open();
    if (!this.touch(name)) return undefined;
    this.pinner(lease)?.(name);
    return join(this.dir, name);
  }

  /**
   * Adds a file written into the directory by someone else (the compactor: temp file + rename to `name`)
   * to the accounting, as the most recently used entry, and evicts past the bound.
   */
  async adopt(name: string): Promise<void> {
    checkName(name);
    await this.open();
    const { size } = await stat(join(this.dir, name));
    this.add(name, size);
    this.evictTo(this.maxBytes);
    await this.idle();
  }

  /** Resolves once every evicted file is deleted from disk (eviction itself is immediate; see `release`). */
  async idle(): Promise<void> {
    while (this.deleting.size > 0) await Promise.all(this.deleting.values());
  }

  /** Waits until a file evicted under `name` is deleted (a writer of the same name must not race the delete). */
  async settled(name: string): Promise<void> {
    await this.deleting.get(name);
  }

  stats(): ChunkCacheStats {
    return { files: this.entries.size, bytes: this.total, maxBytes: this.maxBytes, pinned: this.pins.size };
  }

  private pinner(lease: CacheLease | undefined): ((name: string) => void) | undefined {
    if (lease === undefined) return undefined;
    const pin = this.leases.get(lease);
    if (!pin) throw new InvalidArgumentError('lease must come from this cache (cache.lease())');
    return pin;
  }

  /**
   * Creates the directory and adopts what a previous run left there (once; the first fetch does it when
   * nobody called this before). `QueryEngine.open` calls it, so the first query does not pay the scan.
   */
  open(): Promise<void> {
    this.ready ??= this.scan().then(() => {
      this.opened = true;
    });
    return this.ready;
  }

  private async scan(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const found: Array<{ name: string; size: number; mtime: number }> = [];
    for (const name of await readdir(this.dir)) {
      if (TEMP_NAME.test(name)) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      if (!CACHED_NAME.test(name)) continue;
      const s = await stat(join(this.dir, name)).catch(() => undefined);
      if (s?.isFile()) found.push({ name, size: s.size, mtime: s.mtimeMs });
    }
    for (const f of found.sort((a, b) => a.mtime - b.mtime)) this.add(f.name, f.size);
    this.evictTo(this.maxBytes);
    await this.idle();
  }

  /** Marks `name` most recently used; false when it is not cached. */
  private touch(name: string): boolean {
    const size = this.entries.get(name);
    if (size === undefined) return false;
    this.entries.delete(name);
    this.entries.set(name, size);
    return true;
  }

  private add(name: string, size: number): void {
    const old = this.entries.get(name);
    this.entries.delete(name);
    this.entries.set(name, size);
    this.total += size - (old ?? 0);
    cacheMetrics.bytes.inc(size - (old ?? 0));
  }

  /** Deletes least recently used unpinned files until the cache holds at most `limit` bytes (or only pinned files); returns the bytes freed. */
  private evictTo(limit: number): number {
    let freed = 0;
    for (const [name, size] of this.entries) {
      if (this.total <= limit) break;
      if (this.pins.has(name)) continue;
      this.entries.delete(name);
      this.total -= size;
      freed += size;
      cacheMetrics.evictions.inc();
      cacheMetrics.bytes.dec(size);
      const p: Promise<void> = rm(join(this.dir, name), { force: true })
        .catch(() => undefined)
        .finally(() => {
          if (this.deleting.get(name) === p) this.deleting.delete(name);
        });
      this.deleting.set(name, p);
    }
    return freed;
  }

  private async load(hash: Hash, signal: AbortSignal | undefined): Promise<void> {
    const name = `${hash}.parquet`;
    const bytes = await this.store.get(hash, signal ? { signal } : {});
    await this.settled(name);
    const tmp = join(this.dir, `.${hash}.${process.pid}.${++this.seq}.tmp`);
    this.evictTo(this.maxBytes - bytes.length);
    try {
      await this.write(tmp, bytes);
      await rename(tmp, join(this.dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.add(name, bytes.length);
  }

  /** Writes a temp file; on a full disk, evicts unpinned files (half of what the cache holds) and tries once more. */
  private async write(tmp: string, bytes: Uint8Array): Promise<void> {
    try {
      await writeFile(tmp, bytes);
      return;
    } catch (err) {
      if (!DISK_FULL.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      await rm(tmp, { force: true });
      const freed = this.evictTo(Math.floor(this.total / 2));
      await Promise.all(this.deleting.values());
      if (freed > 0) {
        try {
          await writeFile(tmp, bytes);
          return;
        } catch (again) {
          if (!DISK_FULL.has((again as NodeJS.ErrnoException).code ?? '')) throw again;
        }
      }
      const { bytes: cached, pinned } = this.stats();
      throw new ArmillariaError(ErrorCode.BackendUnavailable, 
        `query cache disk is full: ${this.dir} (this cache holds ${cached} bytes, ${pinned} files pinned by running queries); free disk space or lower ARMILLARIA_QUERY_CACHE_MAX_BYTES below the free space`,
        { cause: err, details: { dir: this.dir, cachedBytes: cached, pinnedFiles: pinned, maxBytes: this.maxBytes } },
      );
    }
  }
}

function checkName(name: string): void {
  if (!CACHED_NAME.test(name)) throw new InvalidArgumentError(`not a cache file name: ${JSON.stringify(name)}`, { details: { name } });
}
