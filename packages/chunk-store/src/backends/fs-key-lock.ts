import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { BackendUnavailableError, sleep } from '@armillaria/core';

export interface FsKeyLockOptions {
  /** Directory holding the lock files (`<root>/.locks`), on the same file system as the objects. */
  dir: string;
  /** A lock this old is abandoned whoever holds it (default 10 s; locks are held for a stat and a rename). */
  staleMs?: number;
  /** Give up waiting after this long with BackendUnavailableError (default 30 s). */
  timeoutMs?: number;
}

/**
 * Per-key mutual exclusion across threads and processes of one host, for the read-compare-rename of a
 * conditional put and for deletes.
 *
 * Why lock files: Node has no flock(2), and creating a lock file by link(2) of a fully written draft is atomic
 * on every local file system (EEXIST when taken) and never exposes an empty lock. The file (`<sha256(key)>.lock`, so any key fits one flat directory) holds `pid host time nonce`.
 * A lock is stale when its holder's pid no longer exists on this host (a crashed writer) or it is older than
 * `staleMs` (a hung one, or another host). A stale lock is broken by renaming it to a unique name (only one
 * breaker can move a given file) and checking the moved file is the one judged stale; if a live lock was moved
 * by mistake it is linked back. Within a process, waiters queue on a promise chain first, so they do not poll.
 * The lock is only taken after the new bytes are written and synced, so it is held for milliseconds.
 */
export class FsKeyLock {
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly local = new Map<string, Promise<void>>();
  private readonly host = hostname();

  constructor(private readonly options: FsKeyLockOptions) {
    this.staleMs = options.staleMs ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Runs `fn` while holding the lock of `key`. */
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.local.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.local.set(key, tail);
    await previous;
    try {
      const file = join(this.options.dir, `${createHash('sha256').update(key).digest('hex')}.lock`);
      const token = await this.acquire(file, key);
      try {
        return await fn();
      } finally {
        await this.release(file, token);
      }
    } finally {
      release();
      if (this.local.get(key) === tail) this.local.delete(key);
    }
  }

  private async acquire(file: string, key: string): Promise<string> {
    const token = `${process.pid} ${this.host} ${Date.now()} ${randomBytes(8).toString('hex')}`;
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      // The lock appears whole (link of a written file), so a holder killed mid-way never leaves an empty lock
      // whose owner cannot be told; link(2) fails with EEXIST when the lock is taken, atomically.
      const draft = `${file}.${randomBytes(8).toString('hex')}.draft`;
      try {
        await writeFile(draft, token, { flag: 'wx' });
        await link(draft, file);
        return token;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new BackendUnavailableError(`cannot lock ${key}: ${(err as Error).message}`, { cause: err });
      } finally {
        await unlink(draft).catch(() => undefined);
      }
      if (await this.breakIfStale(file)) continue;
      if (Date.now() > deadline) throw new BackendUnavailableError(`timed out waiting for the lock of ${key} (${file})`);
      await sleep(Math.min(50, 1 + attempt * 2) * (0.5 + Math.random()));
    }
  }

  private async release(file: string, token: string): Promise<void> {
    // Only remove our own lock: if it was (wrongly) broken as stale, the file may now be someone else's.
    const content = await readFile(file, 'utf8').catch(() => undefined);
    if (content === token) await unlink(file).catch(() => undefined);
  }

  private async breakIfStale(file: string): Promise<boolean> {
    const content = await readFile(file, 'utf8').catch(() => undefined);
    if (content === undefined) return true; // released meanwhile: try again at once
    if (!this.isStale(content, await stat(file).then((s) => s.mtimeMs, () => Date.now()))) return false;
    const moved = `${file}.stale-${randomBytes(8).toString('hex')}`;
    try {
      await rename(file, moved);
    } catch {
      return true; // another breaker or the holder got there first
    }
    const movedContent = await readFile(moved, 'utf8').catch(() => undefined);
    if (movedContent !== content) {
      // We moved a lock taken after our check: put it back unless a new one already exists.
      await link(moved, file).catch(() => undefined);
    }
    await unlink(moved).catch(() => undefined);
    return true;
  }

  private isStale(content: string, mtimeMs: number): boolean {
    const [pidText, host, timeText] = content.split(' ');
    const time = Number(timeText);
    const age = Date.now() - (Number.isFinite(time) ? time : mtimeMs);
    if (age > this.staleMs) return true;
    const pid = Number(pidText);
    if (host !== this.host || !Number.isInteger(pid) || pid <= 0) return false;
    if (pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}
