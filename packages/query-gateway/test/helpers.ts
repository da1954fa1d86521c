import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmillariaError } from '@armillaria/core';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat } from '@armillaria/catalog';
import { QueryEngine, type QueryEngineOptions } from '../src/index.js';

export interface Env {
  dir: string;
  objects: MemoryObjectStore;
  chunks: ObjectChunkStore;
  catalog: Catalog;
  format: ParquetTableFormat;
  engine: QueryEngine;
  cleanup(): Promise<void>;
}

/** An embedded catalog (small chunks, so pruning has something to prune) and a query engine over it. */
export async function embeddedEnv(opts: { targetChunkRows?: number; limits?: QueryEngineOptions['limits'] } = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-qg-'));
  const objects = new MemoryObjectStore();
  const chunks = new ObjectChunkStore({ objects, hasher: await loadHasher() });
  const format = new ParquetTableFormat({ chunks, targetChunkRows: opts.targetChunkRows ?? 256 });
  const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'refs') }), format });
  const engine = await QueryEngine.open({ catalog, format, chunks, cacheDir: join(dir, 'cache'), threads: 1, ...(opts.limits ? { limits: opts.limits } : {}) });
  return {
    dir, objects, chunks, catalog, format, engine,
    cleanup: async () => {
      await engine.close();
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function errorOf(p: Promise<unknown>): Promise<ArmillariaError> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ArmillariaError)) throw new Error(`expected an ArmillariaError, got ${String(err)}`);
  return err;
}

/** Seeded PRNG shared by the test suites (mulberry32, from the testkit). */
export { seededRandom as rng } from '@armillaria/testkit';
