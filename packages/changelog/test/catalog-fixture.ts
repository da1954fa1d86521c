import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat } from '@armillaria/catalog';

export interface CatalogFixture {
  catalog: Catalog;
  dir: string;
  cleanup(): Promise<void>;
}

/** The embedded catalog as an application builds it: chunks in memory, refs in files. */
export async function embeddedCatalog(): Promise<CatalogFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-changelog-'));
  const chunks = new ObjectChunkStore({ objects: new MemoryObjectStore(), hasher: await loadHasher() });
  const catalog = new Catalog({ chunks, refs: new FsRefStore({ root: join(dir, 'refs') }), format: new ParquetTableFormat({ chunks }) });
  return {
    catalog,
    dir,
    cleanup: async () => {
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A small deterministic PRNG (mulberry32) for seeded workloads. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
