/**
 * Starts the real servers the tests need (MinIO, Redis, NATS with JetStream) on free loopback ports,
 * each with its data in a temp dir, and stops them again. A service whose env var is already set is
 * the user's: it is checked for reachability and left alone.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError, InvalidArgumentError, sleep } from '@armillaria/core';
import { ensureBinaries, type ServerBinary } from './binaries.js';
import { onExitCleanup } from './exit-cleanup.js';
import { freePort } from './free-port.js';
import { probeNats, probeRedis, probeS3 } from './probes.js';
import { Reaper } from './reaper.js';
import { ServerProcess } from './server-process.js';
import { defaultS3Credentials, serviceNames, serviceUrlEnv, ServiceEnv, type ServiceName } from './service-env.js';

export interface StartServicesOptions {
  /** Services to provide. Default: ARMILLARIA_TEST_SERVICES (comma list, `all` or `none`), else all three. */
  readonly services?: readonly ServiceName[];
  /** How long each server may take to become ready. Default 60 s (MinIO on a loaded 2-core box). */
  readonly readyTimeoutMs?: number;
}

export interface RunningServices {
  /** The env vars that point at every provided service; also written to this process's `process.env`. */
  readonly env: Readonly<Record<string, string>>;
  /** Services this call started (stopServices stops them). */
  readonly started: readonly ServiceName[];
  /** Services that were already configured by env var (left alone). */
  readonly external: readonly ServiceName[];
  /** The server processes started (for diagnostics and crash tests), and the temp dir holding their data and logs. */
  readonly processes: readonly { readonly name: string; readonly pid: number; readonly logPath: string }[];
  readonly dataDir: string | undefined;
}

interface ServiceSpec {
  readonly binary: ServerBinary;
  readonly portCount: number;
  args(ports: readonly number[], dataDir: string): string[];
  env?(): Record<string, string>;
  url(ports: readonly number[]): string;
  probe(url: string): Promise<unknown>;
  probeExternal(url: string): Promise<unknown>;
}

const specs: Readonly<Record<ServiceName, ServiceSpec>> = {
  redis: {
    binary: 'redis-server',
    portCount: 1,
    args: ([p], dir) => ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    url: ([p]) => `redis://127.0.0.1:${p}`,
    probe: (url) => probeRedis(url),
    probeExternal: (url) => probeRedis(url),
  },
  nats: {
    binary: 'nats-server',
    portCount: 1,
    args: ([p], dir) => ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir],
    url: ([p]) => `nats://127.0.0.1:${p}`,
    probe: (url) => probeNats(url, { requireJetStream: true }),
    probeExternal: (url) => probeNats(url, { requireJetStream: true }),
  },
  s3: {
    binary: 'minio',
    portCount: 2,
    args: ([p, console], dir) => ['server', '--address', `127.0.0.1:${p}`, '--console-address', `127.0.0.1:${console}`, dir],
    env: () => ({
      MINIO_ROOT_USER: process.env[ServiceEnv.s3AccessKey] || defaultS3Credentials.accessKeyId,
      MINIO_ROOT_PASSWORD: process.env[ServiceEnv.s3SecretKey] || defaultS3Credentials.secretAccessKey,
      MINIO_UPDATE: 'off',
    }),
    url: ([p]) => `http://127.0.0.1:${p}`,
    probe: (url) => probeS3(url),
    // A user's endpoint may be any S3, not MinIO: any HTTP answer proves it is reachable.
    probeExternal: (url) => probeS3(url, { anyHttpReply: true }),
  },
};

let current: { services: RunningServices; procs: ServerProcess[]; root: string | undefined; savedEnv: Record<string, string | undefined>; unregister: () => void } | undefined;

/** Parses ARMILLARIA_TEST_SERVICES; throws InvalidArgumentError on an unknown name. */
export function servicesFromEnv(value = process.env.ARMILLARIA_TEST_SERVICES): readonly ServiceName[] {
  if (value === undefined || value.trim() === '' || value.trim() === 'all') return serviceNames;
  if (value.trim() === 'none') return [];
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(serviceNames as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`ARMILLARIA_TEST_SERVICES: unknown service ${JSON.stringify(n)} (expected a comma list of ${serviceNames.join(', ')}, or all / none)`);
    }
  }
  return names as ServiceName[];
}

async function checkExternal(name: ServiceName, url: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await specs[name].probeExternal(url);
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new BackendUnavailableError(`${serviceUrlEnv[name]}=${url} is set but not usable: ${(err as Error).message}. Unset it to let the test harness start its own server.`, { cause: err });
      }
      await sleep(200);
    }
  }
}

const portConflict = /address already in use|bind: |EADDRINUSE/i;

async function startOne(name: ServiceName, binary: string, root: string, timeoutMs: number, procs: ServerProcess[], reaper: Reaper): Promise<string> {
  const spec = specs[name];
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: spec.portCount }, freePort));
    const dir = join(root, `${name}-${attempt}`);
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const proc = ServerProcess.start({ name, command: binary, args: spec.args(ports, dataDir), dir, ...(spec.env ? { env: spec.env() } : {}) });
    procs.push(proc);
    reaper.watchPid(proc.pid);
    const url = spec.url(ports);
    try {
      await proc.waitUntilReady(() => spec.probe(url), timeoutMs);
      return url;
    } catch (err) {
      await proc.stop();
      // Another process can grab a port between freePort() and the bind: try fresh ports.
      if (attempt < 3 && portConflict.test(proc.logTail())) continue;
      throw err;
    }
  }
}

/**
 * Provides every requested service: the user's (env var set, checked reachable) or a fresh server
 * started here. Sets the env vars in `process.env` (child processes and vitest workers inherit them).
 * Throws BackendUnavailableError if a binary is missing after install.sh, a server does not become
 * ready (with the tail of its log), or a user's server is unreachable. Calling it again while running
 * returns the running services.
 */
export async function startServices(options: StartServicesOptions = {}): Promise<RunningServices> {
  if (current) return current.services;
  const wanted = options.services ?? servicesFromEnv();
  const external = wanted.filter((n) => process.env[serviceUrlEnv[n]]);
  const toStart = wanted.filter((n) => !process.env[serviceUrlEnv[n]]);
  await Promise.all(external.map((n) => checkExternal(n, process.env[serviceUrlEnv[n]] as string)));

  const env: Record<string, string> = {};
  for (const n of external) env[serviceUrlEnv[n]] = process.env[serviceUrlEnv[n]] as string;
  const procs: ServerProcess[] = [];
  const root = toStart.length > 0 ? mkdtempSync(join(tmpdir(), 'armillaria-services-')) : undefined;
  // Three layers: stopServices (normal), an exit/signal handler (crash, Ctrl-C), the reaper (SIGKILL).
  const reaper = root ? new Reaper() : undefined;
  if (root) reaper?.watchDir(root);
  const exitHandler = onExitCleanup(() => {
    for (const p of procs) p.killSync();
    if (root) rmSync(root, { recursive: true, force: true });
    reaper?.release();
  });
  const unregister = (): void => {
    exitHandler();
    reaper?.release();
  };
  try {
    if (root) {
      const bins = ensureBinaries(toStart.map((n) => specs[n].binary));
      const timeout = options.readyTimeoutMs ?? 60_000;
      // allSettled, not all: on a failure every start must have finished before the cleanup below runs.
      const results = await Promise.allSettled(toStart.map((n) => startOne(n, bins[specs[n].binary] as string, root, timeout, procs, reaper as Reaper)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      toStart.forEach((n, i) => (env[serviceUrlEnv[n]] = (results[i] as PromiseFulfilledResult<string>).value));
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    if (root) await rm(root, { recursive: true, force: true });
    unregister();
    throw err;
  }
  const savedEnv: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  const processes = procs.filter((p) => !p.exitInfo).map((p) => ({ name: p.options.name, pid: p.pid as number, logPath: p.logPath }));
  const services: RunningServices = { env, started: toStart, external, processes, dataDir: root };
  current = { services, procs, root, savedEnv, unregister };
  return services;
}

/** Stops what startServices started (SIGTERM, then SIGKILL after 5 s), removes its temp dirs and restores process.env. */
export async function stopServices(): Promise<void> {
  const state = current;
  if (!state) return;
  current = undefined;
  await Promise.all(state.procs.map((p) => p.stop()));
  if (state.root) await rm(state.root, { recursive: true, force: true, maxRetries: 3 });
  for (const [k, v] of Object.entries(state.savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  state.unregister();
}
