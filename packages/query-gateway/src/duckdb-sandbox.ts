import { mkdir } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';

export interface SandboxOptions {
  /** The only directory DuckDB may read (the chunk cache). */
  cacheDir: string;
  /** DuckDB worker threads (default: DuckDB's, the number of cores). */
  threads?: number;
  /** DuckDB memory limit, e.g. `'2GB'` (default: DuckDB's, 80% of RAM). */
  memoryLimit?: string;
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * One in-memory DuckDB locked down for untrusted SQL: no file access except `cacheDir` (where views read
 * Parquet chunks), no extension auto-install or auto-load, and the configuration locked so no statement
 * can undo any of it. The settings are applied through SQL because DuckDB rejects `allowed_directories`
 * in the open-time config, then `lock_configuration` freezes them.
 */
export async function openSandbox(opts: SandboxOptions): Promise<DuckDBInstance> {
  const dir = resolve(opts.cacheDir);
  await mkdir(dir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const setup = await instance.connect();
  try {
    const settings = [
      `SET allowed_directories = [${sqlString(dir.endsWith(sep) ? dir : dir + sep)}]`,
      'SET enable_external_access = false',
      'SET autoinstall_known_extensions = false',
      'SET autoload_known_extensions = false',
      'SET allow_community_extensions = false',
      // Chunks are immutable (named by hash), so their Parquet footers can be cached across queries safely.
      'SET parquet_metadata_cache = true',
    ];
    if (opts.threads !== undefined) settings.push(`SET threads = ${Math.max(1, Math.floor(opts.threads))}`);
    if (opts.memoryLimit !== undefined) settings.push(`SET memory_limit = ${sqlString(opts.memoryLimit)}`);
    settings.push('SET lock_configuration = true');
    for (const s of settings) await setup.run(s);
  } catch (err) {
    instance.closeSync();
    throw err;
  } finally {
    setup.closeSync();
  }
  return instance;
}
