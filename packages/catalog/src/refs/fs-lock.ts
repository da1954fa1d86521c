import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { BackendUnavailableError, sleep } from '@armillaria/core';

/**
 * An exclusive lock between processes on one machine: a lock file created atomically and exclusively
 * (written to a temp file, then hard-linked into place, which fails if the lock exists) holding
 * {host, boot, pid, token, time}. Hand-written rather than proper-lockfile because that library keeps
 * locks alive with mtime timers and judges staleness by mtime alone, while here a lock is held for
 * a few ms and its holder's liveness can be checked directly.
 *
 * A lock is stale when its holder is a dead process of this boot of this host, was written before the
 * last reboot, or is older than `staleMs` (holders on other hosts, pid reuse, a hung holder).
 * Breaking a stale lock renames it aside and checks the renamed file is the one judged stale; if a
 * racing breaker already replaced it with a live lock, that lock is linked back. This leaves one
 * narrow race after a crash (a third process creating the lock between that rename and the link back);
 * without a crash a lock is never broken while held.
 *
 * The file operations are synchronous system calls: they touch only the page and directory caches
 * (nothing here is fsync'd: a lock does not outlive a boot) and take microseconds each, while a trip
 * through libuv's thread pool costs tens of microseconds on a loaded machine, several per lock.
 */
export interface FileLockOptions {
  /**
   * Age after which any lock counts as stale (default 60 s), whoever holds it. A CAS holds its lock for
   * milliseconds; a lock of a dead process on this machine is stale at once.
   */
  staleMs?: number;
  /** How long to wait for a held lock before failing with BACKEND_UNAVAILABLE (default 20 s). */
  timeoutMs?: number;
}

interface LockContent {
  host: string;
  boot: string;
  pid: number;
  token: string;
  time: number;
}

const HOST = hostname();
let bootId: Promise<string> | undefined;
function currentBoot(): Promise<string> {
  bootId ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => '');
  return bootId;
}

/**
 * Runs `fn` holding the lock at `path`. `fn` learns whether a stale lock was broken on the way in, i.e.
 * whether a holder crashed and may have left debris for it to sweep.
 */
export async function withFileLock<T>(path: string, opts: FileLockOptions, fn: (brokeStale: boolean) => Promise<T>): Promise<T> {
  const { token, brokeStale } = await acquire(path, opts.staleMs ?? 60_000, opts.timeoutMs ?? 20_000);
  try {
    return await fn(brokeStale);
  } finally {
    release(path, token);
  }
}

async function acquire(path: string, staleMs: number, timeoutMs: number): Promise<{ token: string; brokeStale: boolean }> {
  const content: LockContent = { host: HOST, boot: await currentBoot(), pid: process.pid, token: randomUUID(), time: Date.now() };
  const deadline = Date.now() + timeoutMs;
  let brokeStale = false;
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(path, { ...content, time: Date.now() })) return { token: content.token, brokeStale };
    const holder = readLock(path);
    if (holder && (await isStale(holder, staleMs))) {
      breakLock(path, holder.token);
      brokeStale = true;
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder?.content ? `pid ${holder.content.pid} on ${holder.content.host}` : 'another process';
      throw new BackendUnavailableError(`lock ${path} is held by ${who} for longer than ${timeoutMs} ms`);
    }
    await sleep(Math.min(50, 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
  }
}

/**
 * Creates the lock file whole or not at all: the content goes to a private temp file that is then
 * hard-linked to the lock name (link fails with EEXIST like O_EXCL). A holder killed at any point thus
 * never leaves an empty lock file whose owner nobody could check.
 */
function tryCreate(path: string, content: LockContent): boolean {
  const temp = `${path}.${process.pid}.${content.token}`;
  writeFileSync(temp, JSON.stringify(content), { flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkQuietly(temp);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or left for the next sweep
  }
}

interface Holder {
  /** undefined while the holder is between creating the file and writing it, or after a torn write. */
  content: LockContent | undefined;
  token: string | undefined;
  mtimeMs: number;
}

function readLock(path: string): Holder | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    const st = statSync(path);
    let content: LockContent | undefined;
    try {
      content = JSON.parse(text) as LockContent;
    } catch {
      content = undefined;
    }
    return { content, token: content?.token, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // released meanwhile
    throw err;
  }
}

async function isStale(holder: Holder, staleMs: number): Promise<boolean> {
  if (Date.now() - holder.mtimeMs > staleMs) return true;
  const c = holder.content;
  // Unreadable (only by outside damage, as locks are created whole) or another host's: age alone decides.
  if (!c || c.host !== HOST) return false;
  const boot = await currentBoot();
  if (boot && c.boot && c.boot !== boot) return true;
  return !isAlive(c.pid);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function breakLock(path: string, staleToken: string | undefined): void {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else broke or released it
    throw err;
  }
  const moved = readLock(aside);
  if (moved && moved.token !== staleToken) {
    // We moved a live lock another breaker had just taken: put it back unless a new one exists.
    try {
      linkSync(aside, path);
    } catch {
      // a newer lock exists: the one we moved lost its claim either way
    }
  }
  unlinkQuietly(aside);
}

function release(path: string, token: string): void {
  const holder = readLock(path);
  // Our lock was judged stale and broken while we held it: the file is someone else's now.
  if (holder?.token !== token) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Serialises async work per key inside this process, so same-process writers queue instead of polling the lock file. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
