import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../workers/txn-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs test/workers/txn-worker.ts as a real Node process (TypeScript sources via tsx). */
export function runWorker(args: string[], env: Record<string, string> = {}): Promise<WorkerExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@armillaria/source', '--import', 'tsx', WORKER, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The last JSON line a worker printed. */
export function lastJson<T>(exit: WorkerExit): T {
  const line = exit.stdout.trim().split('\n').filter(Boolean).pop();
  if (!line) throw new Error(`worker printed nothing (code ${exit.code}, signal ${exit.signal}): ${exit.stderr.slice(-2000)}`);
  return JSON.parse(line) as T;
}
