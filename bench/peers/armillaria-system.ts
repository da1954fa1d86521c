/**
 * Armillaria opened the two ways the peers bench measures it, from the libraries directly (the same
 * parts `Armillaria.open` / `armillaria serve` assemble): embedded (objects, refs and txn log on local
 * disk) and distributed (objects in MinIO, refs and txn log in Redis). Queries go through the gateway's
 * `QueryEngine` (DuckDB over the verified local chunk cache), as every SQL read does.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore } from '@armillaria/chunk-store';
import type { Catalog } from '@armillaria/catalog';
import { QueryEngine } from '@armillaria/query-gateway';
import type { TxnCoordinator } from '@armillaria/txn-coordinator';
import { openBenchStack, type StackMode } from '../bench-stack.js';

export type Mode = StackMode;
export const REPO = 'bench';

export interface ArmSystem {
  readonly catalog: Catalog;
  readonly coordinator: TxnCoordinator;
  readonly engine: QueryEngine;
  readonly objects: ObjectStore;
  /** Bytes of every stored object (chunks, manifests, trees, commits); refs and the query cache excluded. */
  storageBytes(): Promise<number>;
  close(): Promise<void>;
}

export async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

export async function openSystem(mode: Mode, dir: string): Promise<ArmSystem> {
  await mkdir(dir, { recursive: true });
  const stack = await openBenchStack(mode, dir, { name: 'bench-peers', bucket: 'armillaria-bench' });
  const { catalog, coordinator, format, chunks, objects } = stack;
  await catalog.createRepo(REPO);
  const engine = await QueryEngine.open({ catalog, format, chunks, cacheDir: join(dir, 'query-cache'), limits: { timeoutMs: 600_000 } });
  return {
    catalog, coordinator, engine, objects,
    storageBytes: async () => {
      let total = 0;
      for await (const o of objects.list('')) total += o.size;
      return total;
    },
    close: async () => {
      await engine.close();
      await stack.close();
    },
  };
}
