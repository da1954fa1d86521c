import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, isHash, Semaphore, type Hash } from '@armillaria/core';
import { CorruptMetadataError, RefConflictError } from '../errors.js';
import { isAlive, KeyedMutex, withFileLock, type FileLockOptions } from './fs-lock.js';
import { appendReflog, readReflog, reflogTail } from './fs-reflog.js';
import { checkCas, checkReflogQuery, clampTime, toStoredEntry, warnReflogLost, type ReflogErrorHandler } from './ref-args.js';
import { assertRefName, isFeasibleRefPrefix, splitRefPrefix } from './ref-names.js';
import type { RefEntry, ReflogEntry, ReflogMeta, RefStore } from './ref-store.js';

export interface FsRefStoreOptions {
  /** Directory holding the refs; created on first write. */
  root: string;
  /** Lock tuning (see FileLockOptions). */
  lock?: FileLockOptions;
  /** A ref moved but its reflog line could not be appended (default: a process warning). */
  onReflogError?: ReflogErrorHandler;
}

// Per-ref files live in the ref's own directory under names no segment can take (segments never hold
// `~`), so `a/b` and `a/b/c` coexist: refs/a/b/~ref and refs/a/b/c/~ref.
const VALUE = '~ref';
const LOG = '~log';
const LOCK = '~lock';
const isInternal = (entry: string): boolean => entry.startsWith('~');

/**
 * RefStore on a local filesystem, safe across processes sharing the directory on one machine.
 * `refs/<name>/~ref` holds the value (replaced by temp file + fsync + rename + directory fsync),
 * `~log` the reflog (JSON lines, fsync'd, kept after delete) and `~lock` the per-ref exclusive lock file a
 * CAS holds while it reads, writes and logs. A crash after the rename and before the log append loses
 * only that log line. Names are case-sensitive: do not use on a case-insensitive filesystem.
 */
export class FsRefStore implements RefStore {
  private readonly refsRoot: string;
  private readonly mutex = new KeyedMutex();
  private readonly io = new Semaphore(32);

  constructor(private readonly options: FsRefStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') throw new InvalidArgumentError('FsRefStore needs a root directory');
    this.refsRoot = join(resolve(options.root), 'refs');
  }

  async get(name: string): Promise<Hash | undefined> {
    assertRefName(name);
    return this.readValue(this.refDir(name), name);
  }

  async compareAndSwap(name: string, expected: Hash | null, next: Hash | null, entry?: ReflogMeta): Promise<void> {
    const req = checkCas(name, expected, next, entry);
    const dir = this.refDir(req.name);
    // A lock-free read that already differs is a valid answer: the CAS fails as of that read.
    const seen = (await this.readValue(dir, req.name)) ?? null;
    if (seen !== req.expected) throw new RefConflictError(req.name, req.expected, seen);
    await this.mutex.run(req.name, async () => {
      await mkdirDurable(dir);
      await withFileLock(join(dir, LOCK), this.options.lock ?? {}, async (brokeStale) => {
        if (brokeStale) await sweepDebris(dir);
        const actual = (await this.readValue(dir, req.name)) ?? null;
        if (actual !== req.expected) throw new RefConflictError(req.name, req.expected, actual);
        const logPath = join(dir, LOG);
        const tail = await reflogTail(logPath); // before the move: a log we cannot read fails the CAS cleanly
        if (req.next === null) await unlink(join(dir, VALUE));
        else await writeFileAtomic(dir, VALUE, `${req.next}\n`);
        await fsyncDir(dir);
        const stored = toStoredEntry(req, clampTime(req.time, tail.lastTime));
        await appendReflog(logPath, stored, tail.tornTail).catch((err: unknown) =>
          (this.options.onReflogError ?? warnReflogLost)(err, { name: req.name, ...stored }),
        );
      });
    });
  }

  async list(prefix: string): Promise<RefEntry[]> {
    if (!isFeasibleRefPrefix(prefix)) return [];
    const { dir, partial } = splitRefPrefix(prefix);
    const out: RefEntry[] = [];
    const base = join(this.refsRoot, ...dir);
    const children = await this.subdirs(base);
    await Promise.all(
      children.filter((c) => c.startsWith(partial)).map((c) => this.walk(join(base, c), [...dir, c].join('/'), out)),
    );
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async reflog(name: string, opts?: { limit?: number; before?: number }): Promise<ReflogEntry[]> {
    const q = checkReflogQuery(name, opts);
    return readReflog(join(this.refDir(q.name), LOG), q.name, q.before, q.limit);
  }

  async close(): Promise<void> {}

  private refDir(name: string): string {
    return join(this.refsRoot, ...name.split('/'));
  }

  private async readValue(dir: string, name: string): Promise<Hash | undefined> {
    let text: string;
    try {
      text = await this.io.run(() => readFile(join(dir, VALUE), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const value = text.trim();
    if (!isHash(value)) throw new CorruptMetadataError('ref', name, `${join(dir, VALUE)} does not hold a hash`);
    return value;
  }

  private async walk(dir: string, name: string, out: RefEntry[]): Promise<void> {
    const [value, children] = await Promise.all([this.readValue(dir, name), this.subdirs(dir)]);
    if (value !== undefined) out.push({ name, value });
    await Promise.all(children.map((c) => this.walk(join(dir, c), `${name}/${c}`, out)));
  }

  /** Child segment directories of `dir`; none when it does not exist. */
  private async subdirs(dir: string): Promise<string[]> {
    try {
      const entries = await this.io.run(() => readdir(dir, { withFileTypes: true }));
      return entries.filter((e) => e.isDirectory() && !isInternal(e.name)).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/**
 * After a crashed writer's lock was broken: removes the temp files it left in the ref's directory
 * (`~tmp-<pid>-…` values, `~lock.<pid>.…` lock contents) when that pid is no longer running.
 */
async function sweepDebris(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    const m = /^~(?:tmp-|lock\.)(\d+)[.-]/.exec(entry);
    if (m && !isAlive(Number(m[1]))) await unlink(join(dir, entry)).catch(() => undefined);
  }
}

async function writeFileAtomic(dir: string, file: string, text: string): Promise<void> {
  const tmp = join(dir, `~tmp-${process.pid}-${randomUUID()}`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, file));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p, then fsync each new directory's parent so the new entries survive a crash. */
async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = dir; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === first || dirname(d) === d) break;
  }
}
