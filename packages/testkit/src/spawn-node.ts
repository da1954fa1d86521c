import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArmillariaError, ErrorCode } from '@armillaria/core';
import { onExitCleanup } from './exit-cleanup.js';

export interface SpawnNodeOptions {
  /** Added to (or, with `undefined`, removed from) the inherited environment, which includes the service URLs. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly args?: readonly string[];
  readonly cwd?: string;
  /** Extra Node flags, e.g. ['--expose-gc']. */
  readonly nodeArgs?: readonly string[];
}

export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process exits (never rejects). */
  readonly exited: Promise<NodeExit>;
  /**
   * Resolves with the match once `pattern` appears in stdout or stderr. Rejects (INTERNAL, with the output
   * in the message) if the process exits first or nothing matches within `timeoutMs` (default 30 s).
   */
  waitForOutput(pattern: string | RegExp, opts?: { timeoutMs?: number }): Promise<string>;
  /** Sends a signal now, e.g. SIGKILL to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs` (default 5 s); resolves with the exit. */
  stop(graceMs?: number): Promise<NodeExit>;
}

const live = new Set<NodeProcess>();
const require = createRequire(import.meta.url);
// TypeScript entry points run through tsx, with workspace packages resolved to their sources like in vitest.
const tsxLoader = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href;

onExitCleanup(() => {
  for (const p of live) p.kill('SIGKILL');
});

/**
 * Runs `scriptPath` (.js/.mjs, or .ts/.mts through tsx) in a child Node process with stdout and stderr
 * captured. Stop it with `stop()` in `afterEach`/`afterAll` (or `stopSpawned()`); anything still running
 * when the test process exits is killed.
 */
export function spawnNode(scriptPath: string, options: SpawnNodeOptions = {}): NodeProcess {
  const isTs = /\.(c|m)?tsx?$/.test(scriptPath);
  const flags = [...(isTs ? ['--conditions=@armillaria/source', '--import', tsxLoader] : []), ...(options.nodeArgs ?? [])];
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [...flags, scriptPath, ...(options.args ?? [])], {
    env,
    cwd: options.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout?.setEncoding('utf8').on('data', (d: string) => ((out += d), notify()));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => ((err += d), notify()));
  let exit: NodeExit | undefined;
  const exited = new Promise<NodeExit>((resolve) => {
    child.once('close', (code, signal) => resolve((exit = { code, signal })));
    child.once('error', (e) => {
      err += `\n[spawn error] ${e.message}`;
      resolve((exit = { code: -1, signal: null }));
    });
  }).finally(() => live.delete(proc));

  const describe = (): string => `${scriptPath}\n--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${err.slice(-4000)}`;
  const proc: NodeProcess = {
    pid: child.pid ?? -1,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? 30_000;
      const find = (): string | undefined => {
        for (const text of [out, err]) {
          if (typeof pattern === 'string') {
            if (text.includes(pattern)) return pattern;
          } else {
            const m = text.match(pattern);
            if (m) return m[0];
          }
        }
        return undefined;
      };
      return new Promise((resolve, reject) => {
        const done = (fn: () => void): void => {
          listeners.delete(check);
          clearTimeout(timer);
          fn();
        };
        const check = (): void => {
          const hit = find();
          if (hit !== undefined) done(() => resolve(hit));
        };
        const timer = setTimeout(() => done(() => reject(new ArmillariaError(ErrorCode.Internal, `no output matching ${pattern} within ${timeoutMs} ms from ${describe()}`))), timeoutMs);
        listeners.add(check);
        check();
        void exited.then((e) => {
          if (listeners.has(check)) {
            check();
            if (listeners.has(check)) done(() => reject(new ArmillariaError(ErrorCode.Internal, `process exited (${e.signal ?? e.code}) before printing ${pattern}: ${describe()}`)));
          }
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (!exit) child.kill(signal);
    },
    async stop(graceMs = 5_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  live.add(proc);
  return proc;
}

/** Stops every process spawnNode started that is still running. */
export async function stopSpawned(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}
