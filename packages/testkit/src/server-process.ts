import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendUnavailableError, sleep } from '@armillaria/core';

export interface ServerProcessOptions {
  /** Shown in errors: "redis", "nats", "minio". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Directory for `server.log`; the server's data dir usually lives next to it. */
  readonly dir: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * One server child process. Its stdout and stderr go straight to `<dir>/server.log` (a file, not a
 * pipe, so a chatty server can never block on a full pipe, and the log survives for the error message).
 */
export class ServerProcess {
  readonly logPath: string;
  private readonly child: ChildProcess;
  private exit: ExitInfo | undefined;
  private spawnError: Error | undefined;
  private readonly exitedPromise: Promise<ExitInfo>;

  private constructor(readonly options: ServerProcessOptions) {
    this.logPath = join(options.dir, 'server.log');
    const fd = openSync(this.logPath, 'a');
    try {
      this.child = spawn(options.command, [...options.args], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...options.env },
        cwd: options.dir,
      });
    } finally {
      closeSync(fd);
    }
    this.exitedPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      // A spawn failure (ENOENT, EACCES) emits 'error' and no 'exit'.
      this.child.once('error', (err) => {
        this.exit ??= { code: -1, signal: null };
        this.spawnError = err;
        resolve(this.exit);
      });
    });
  }

  static start(options: ServerProcessOptions): ServerProcess {
    return new ServerProcess(options);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }

  /** The last `lines` lines of the server's log ('' if there is none). */
  logTail(lines = 30): string {
    let text = '';
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /**
   * Polls `probe` until it resolves. Fails fast, with the log tail in the message, if the process exits
   * first; fails after `timeoutMs` with the last probe error and the log tail.
   */
  async waitUntilReady(probe: () => Promise<unknown>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (this.exit) throw this.failure(`exited before it was ready (${this.describeExit()})`, this.spawnError);
      try {
        await probe();
        return;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) throw this.failure(`was not ready after ${timeoutMs} ms: ${String((lastError as Error)?.message ?? lastError)}`, lastError);
      await Promise.race([sleep(100), this.exitedPromise]);
    }
  }

  /** SIGTERM, then SIGKILL if the process is still alive after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exitedPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For exit handlers, where nothing asynchronous can run. */
  killSync(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }

  private describeExit(): string {
    if (this.spawnError) return `could not spawn ${this.options.command}: ${this.spawnError.message}`;
    return this.exit?.signal ? `signal ${this.exit.signal}` : `exit code ${this.exit?.code}`;
  }

  private failure(what: string, cause: unknown): BackendUnavailableError {
    const { name, command, args } = this.options;
    const tail = this.logTail();
    return new BackendUnavailableError(
      `${name} (${[command, ...args].join(' ')}) ${what}\n--- last lines of ${this.logPath} ---\n${tail || '(empty)'}`,
      cause === undefined ? undefined : { cause },
    );
  }
}
