import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { accessSync, constants } from 'node:fs';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A nats-server (JetStream, file store) of this test's own, on loopback, that can be stopped and
 * started again on the same port and store: for restart tests that must not disturb the shared one.
 */
export class NatsProcess {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number, readonly dir: string, private readonly bin: string) {}

  static async start(): Promise<NatsProcess> {
    const bin = natsServerBinary();
    if (!bin) throw new Error('nats-server not found (set ARMILLARIA_NATS_SERVER_BIN)');
    const p = new NatsProcess(await freePort(), await mkdtemp(join(tmpdir(), 'armillaria-nats-')), bin);
    await p.startAgain();
    return p;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async startAgain(): Promise<void> {
    this.child = spawn(this.bin, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', join(this.dir, 'store')], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        const nc = await connect({ servers: this.url, reconnect: false, timeout: 1_000 });
        await nc.close();
        return;
      } catch (err) {
        if (i > 100 || this.child.exitCode !== null) throw new Error(`nats-server did not start on ${this.url}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.child = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** ARMILLARIA_NATS_SERVER_BIN, else the first executable nats-server on PATH or in the sbin dirs. */
export function natsServerBinary(): string | undefined {
  const override = process.env.ARMILLARIA_NATS_SERVER_BIN;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const path of override ? [override] : dirs.map((d) => join(d, 'nats-server'))) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}
