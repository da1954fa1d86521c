/**
 * A watchdog process for the servers startServices starts. Exit handlers cannot run when the test
 * process is SIGKILLed (or the OOM killer strikes), and the servers would live on. The reaper is a tiny
 * detached Node process reading our pipe: when the pipe closes without a `done` line (whatever killed
 * us), it kills the registered pids and removes the registered directories, then exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const reaperSource = `
const { rmSync } = require('node:fs');
const pids = new Set(); const dirs = new Set(); let buf = ''; let done = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d; let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const [cmd, ...rest] = line.split(' '); const arg = rest.join(' ');
    if (cmd === 'pid') pids.add(Number(arg)); else if (cmd === 'dir') dirs.add(arg); else if (cmd === 'done') done = true;
  }
});
process.stdin.on('end', () => {
  if (!done) {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
    setTimeout(() => { for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch {} } process.exit(0); }, 200);
  } else process.exit(0);
});
`;

export class Reaper {
  private readonly child: ChildProcess;

  constructor() {
    // Detached, in its own process group, so a Ctrl-C or group kill of the test run does not take it down first.
    this.child = spawn(process.execPath, ['-e', reaperSource], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    this.child.unref();
    // Our end of the pipe must not keep the test process alive either.
    (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child.stdin?.on('error', () => {});
  }

  watchPid(pid: number | undefined): void {
    if (pid) this.child.stdin?.write(`pid ${pid}\n`);
  }

  watchDir(dir: string): void {
    this.child.stdin?.write(`dir ${dir}\n`);
  }

  /** Normal teardown already cleaned up: let the reaper go without touching anything. */
  release(): void {
    this.child.stdin?.end('done\n');
  }
}
