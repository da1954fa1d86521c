/**
 * startServices/stopServices in this worker (the global setup's instance lives in the parent process).
 * Failure paths use tiny fake server binaries (shell scripts) selected by the ARMILLARIA_*_BIN overrides.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isArmillariaError } from '@armillaria/core';
import { findBinary, probeNats, probeRedis, spawnNode, startServices, stopServices, tempDir, type RunningServices } from '../src/index.js';

const dir = tempDir('services');
const saved = { ...process.env };
afterEach(async () => {
  await stopServices();
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});
afterAll(() => dir.cleanup());

function fakeServer(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isArmillariaError(err, 'BACKEND_UNAVAILABLE'), String(err)).toBe(true);
  return err as Error;
}

/** Alive and not a zombie waiting to be reaped. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILL is delivered asynchronously: give the kernel a moment before asking. */
async function isDeadSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !isAlive(pid);
}

describe.skipIf(!findBinary('redis-server'))('startServices with a real redis-server', () => {
  it('starts a server on a fresh loopback port, sets the env var, and stops it again', async () => {
    const before = process.env.ARMILLARIA_REDIS_URL;
    delete process.env.ARMILLARIA_REDIS_URL;
    const services = await startServices({ services: ['redis'] });
    const url = services.env.ARMILLARIA_REDIS_URL as string;
    expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toBe(before);
    expect(services).toMatchObject({ started: ['redis'], external: [] });
    expect(process.env.ARMILLARIA_REDIS_URL).toBe(url);
    await probeRedis(url);
    expect(await startServices({ services: ['redis'] })).toBe(services); // already running: same services
    await stopServices();
    expect(process.env.ARMILLARIA_REDIS_URL).toBeUndefined();
    await expect(probeRedis(url)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe.skipIf(!findBinary('redis-server') || !findBinary('nats-server'))('when the test process is killed', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGKILL'] as const)('%s still stops the servers and removes their temp dir', async (signal) => {
    const env = { ARMILLARIA_REDIS_URL: undefined, ARMILLARIA_NATS_URL: undefined };
    const child = spawnNode(fileURLToPath(new URL('./fixtures/start-services.ts', import.meta.url)), { env });
    const line = await child.waitForOutput(/\{.*\}\n/);
    const services = JSON.parse(line) as RunningServices;
    expect(services.processes.map((p) => p.name).sort()).toEqual(['nats', 'redis']);
    for (const p of services.processes) expect(isAlive(p.pid)).toBe(true);
    child.kill(signal);
    expect((await child.exited).signal).toBe(signal);
    for (const p of services.processes) expect(await isDeadSoon(p.pid), p.name).toBe(true);
    for (let i = 0; i < 100 && existsSync(services.dataDir as string); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(services.dataDir as string)).toBe(false);
  });
});

describe('startServices failures', () => {
  it('reports a server that exits at start with its exit code and the tail of its log', async () => {
    delete process.env.ARMILLARIA_REDIS_URL;
    process.env.ARMILLARIA_REDIS_SERVER_BIN = fakeServer('exits', 'echo "line one"; echo "fatal: config is broken" >&2; exit 2');
    const err = await rejection(startServices({ services: ['redis'] }));
    expect(err.message).toContain('exited before it was ready (exit code 2)');
    expect(err.message).toContain('fatal: config is broken');
  });

  it('gives up on a server that never becomes ready, and kills it', async () => {
    delete process.env.ARMILLARIA_NATS_URL;
    const pidFile = join(dir.path, 'slow.pid');
    process.env.ARMILLARIA_NATS_SERVER_BIN = fakeServer('slow', `echo $$ > ${pidFile}; echo "warming up"; exec sleep 120`);
    const err = await rejection(startServices({ services: ['nats'], readyTimeoutMs: 300 }));
    expect(err.message).toMatch(/was not ready after 300 ms: .*ECONNREFUSED/);
    expect(err.message).toContain('warming up');
    expect(await isDeadSoon(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
  });

  it('names a binary that is still missing after install.sh ran', async () => {
    delete process.env.ARMILLARIA_S3_ENDPOINT;
    process.env.ARMILLARIA_MINIO_BIN = join(dir.path, 'no-such-minio');
    const err = await rejection(startServices({ services: ['s3'] }));
    expect(err.message).toContain('test servers missing: minio');
    expect(err.message).toContain('ARMILLARIA_MINIO_BIN');
  });

  it('fails when a user-set URL is unreachable instead of starting its own', async () => {
    const closed = await listen(() => {});
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    process.env.ARMILLARIA_NATS_URL = `nats://127.0.0.1:${port}`;
    const err = await rejection(startServices({ services: ['nats'] }));
    expect(err.message).toContain(`ARMILLARIA_NATS_URL=nats://127.0.0.1:${port} is set but not usable`);
  });
});

function listen(onConnection: Parameters<typeof createServer>[1]): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(onConnection);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('probes', () => {
  it('rejects a NATS server without JetStream and a port that is not NATS', async () => {
    const plain = await listen((s) => s.end('INFO {"server_id":"x","jetstream":false}\r\n'));
    const notNats = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    try {
      const url = (srv: Server): string => `nats://127.0.0.1:${(srv.address() as { port: number }).port}`;
      expect(await probeNats(url(plain))).toMatchObject({ jetstream: false });
      await expect(probeNats(url(plain), { requireJetStream: true })).rejects.toThrow(/without JetStream/);
      await expect(probeNats(url(notNats))).rejects.toThrow(/is not a NATS server/);
    } finally {
      plain.close();
      notNats.close();
    }
  });

  it('rejects a Redis that refuses PING, and sends AUTH when the URL has a password', async () => {
    const seen: string[] = [];
    const server = await listen((s) => {
      s.on('data', (d) => {
        seen.push(d.toString());
        s.end('-NOAUTH Authentication required.\r\n');
      });
    });
    try {
      const port = (server.address() as { port: number }).port;
      await expect(probeRedis(`redis://127.0.0.1:${port}`)).rejects.toThrow(/NOAUTH/);
      await expect(probeRedis(`redis://:s3cret@127.0.0.1:${port}`)).rejects.toThrow(/NOAUTH/);
      expect(seen[1]).toContain('AUTH\r\n$6\r\ns3cret');
    } finally {
      server.close();
    }
  });
});
