import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '@armillaria/core';

export type ServerBinary = 'redis-server' | 'nats-server' | 'minio';

/** Overrides for unusual installs, e.g. ARMILLARIA_MINIO_BIN=/opt/minio/minio. */
export const binaryOverrideEnv: Readonly<Record<ServerBinary, string>> = {
  'redis-server': 'ARMILLARIA_REDIS_SERVER_BIN',
  'nats-server': 'ARMILLARIA_NATS_SERVER_BIN',
  minio: 'ARMILLARIA_MINIO_BIN',
};

/** Where infra/dev/install.sh builds MinIO: outside the repo, so once per machine (same rule as the script). */
export function minioCacheDir(): string {
  if (process.env.ARMILLARIA_MINIO_CACHE) return process.env.ARMILLARIA_MINIO_CACHE;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'armillaria', 'minio');
}

/** infra/dev/install.sh of this checkout (the same depth from src/ and dist/). */
export const installScriptPath = fileURLToPath(new URL('../../../infra/dev/install.sh', import.meta.url));

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary's path, or undefined. Looks at the override env var, PATH, the sbin dirs (nats-server lives in /usr/sbin) and the MinIO cache. */
export function findBinary(name: ServerBinary): string | undefined {
  const override = process.env[binaryOverrideEnv[name]];
  if (override) return isExecutable(override) ? override : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  if (name === 'minio') dirs.unshift(join(minioCacheDir(), 'bin'));
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Paths of the requested binaries. If any is missing, runs infra/dev/install.sh once (it installs only
 * what is missing; its output goes to stderr) and looks again. Throws BackendUnavailableError naming
 * what is still missing.
 */
export function ensureBinaries(names: readonly ServerBinary[]): Partial<Record<ServerBinary, string>> {
  const found: Partial<Record<ServerBinary, string>> = {};
  const missing = (): ServerBinary[] => {
    for (const n of names) found[n] ??= findBinary(n);
    return names.filter((n) => !found[n]);
  };
  const first = missing();
  if (first.length === 0) return found;
  process.stderr.write(`[testkit] missing ${first.join(', ')}: running ${installScriptPath}\n`);
  const run = spawnSync('bash', [installScriptPath], { stdio: ['ignore', process.stderr, process.stderr] });
  const still = missing();
  if (still.length > 0) {
    const why = run.error ? run.error.message : `install.sh exited with ${run.status ?? run.signal}`;
    throw new BackendUnavailableError(
      `test servers missing: ${still.join(', ')} (${why}). Run \`bash infra/dev/install.sh\`, or set ${still.map((n) => binaryOverrideEnv[n]).join(' / ')}, ` +
        `or point the tests at your own servers with ARMILLARIA_S3_ENDPOINT / ARMILLARIA_REDIS_URL / ARMILLARIA_NATS_URL`,
    );
  }
  return found;
}
