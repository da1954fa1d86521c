import { createReadStream } from 'node:fs';
import { access, constants, link, lstat, mkdir, open, readFile, rename, rmdir, unlink, utimes } from 'node:fs/promises';
import { addAbortSignal } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { ArmillariaError, BackendUnavailableError, InvalidArgumentError, ObjectNotFoundError, PreconditionFailedError, makeParents, mapLimit, syncDir } from '@armillaria/core';
import type { ObjectInfo, ObjectStore, PutOptions, PutResult } from '../object-store.js';
import { FsKeyLock } from './fs-key-lock.js';
import { walkSorted } from './fs-walk.js';
import { SourceFailure, etagOf, pruneEmptyDirs, sweepOldFiles, writeTempFile } from './fs-files.js';
import { assertListPrefix, assertStartAfter, assertObjectKey, invalidKey } from './keys.js';
import { assertBody, assertStreamBody, putCondition, type PutCondition } from './put-options.js';

export interface FsObjectStoreOptions {
  /** Directory holding the objects; created if missing. Key `a/b/c` is the file `<root>/a/b/c`. */
  root: string;
  /** Temp files older than this are deleted by the startup sweep (default 1 h): leftovers of crashed puts. */
  staleTempMs?: number;
  /** Lock files older than this are broken (default 10 s); see FsKeyLock. */
  staleLockMs?: number;
  /** Deletes in flight for one deleteMany (default 32). */
  deleteConcurrency?: number;
}

const TMP_DIR = '.tmp';
const LOCK_DIR = '.locks';
const RESERVED = new Set([TMP_DIR, LOCK_DIR]);

/**
 * ObjectStore on a local file system, for the embedded mode; safe for many processes of one host.
 *
 * A put writes a temp file in `<root>/.tmp`, fsyncs it, then publishes it under the key and fsyncs the
 * directory, so a crash leaves the old object or the new one, never a prefix:
 * - unconditional and `ifMatch` puts rename the temp file over the key while holding the key's lock
 *   (FsKeyLock), so the etag compare and the rename are one step across processes;
 * - `ifNoneMatch: '*'` puts link(2) the temp file to the key: link fails with EEXIST if the key exists, which
 *   is atomic without a lock (the create-only chunk writes never wait).
 * Deletes take the key's lock too, so a delete cannot slip between an `ifMatch` compare and its rename.
 * Etags come from stat (see `etagOf`). Keys whose first segment is `.tmp` or `.locks` are reserved, and a key
 * cannot be both an object and a "directory" of others (`a` and `a/b`): such a put throws INVALID_ARGUMENT.
 */
export class FsObjectStore implements ObjectStore {
  readonly description: string;
  readonly root: string;
  private readonly tmpDir: string;
  private readonly lock: FsKeyLock;
  private readonly deleteConcurrency: number;
  private readonly ready: Promise<void>;
  private readonly sweep: Promise<number>;

  constructor(options: FsObjectStoreOptions) {
    if (typeof options?.root !== 'string' || options.root.length === 0) throw new InvalidArgumentError('FsObjectStore: root must be a non-empty path');
    this.root = resolve(options.root);
    this.description = `fs:${this.root}`;
    this.tmpDir = join(this.root, TMP_DIR);
    this.lock = new FsKeyLock({ dir: join(this.root, LOCK_DIR), ...(options.staleLockMs !== undefined && { staleMs: options.staleLockMs }) });
    this.deleteConcurrency = options.deleteConcurrency ?? 32;
    this.ready = Promise.all([mkdir(this.tmpDir, { recursive: true }), mkdir(join(this.root, LOCK_DIR), { recursive: true })]).then(
      () => undefined,
      (err) => {
        throw new BackendUnavailableError(`${this.description}: cannot create the store directories: ${(err as Error).message}`, { cause: err });
      },
    );
    this.ready.catch(() => undefined); // reported by the first call instead
    // Runs in the background: a big .tmp must not delay the first put. close() waits for it.
    // Lock drafts and broken locks of killed processes are swept too; live lock files are FsKeyLock's business.
    const staleMs = options.staleTempMs ?? 3_600_000;
    this.sweep = this.ready
      .then(async () => {
        const locks = await sweepOldFiles(join(this.root, LOCK_DIR), staleMs, (n) => n.endsWith('.draft') || n.includes('.lock.stale-'));
        return (await sweepOldFiles(this.tmpDir, staleMs)) + locks;
      })
      .catch(() => 0);
  }

  /** How many stale temp files (and lock leftovers) the startup sweep removed (for operators and tests). */
  sweptTempFiles(): Promise<number> {
    return this.sweep;
  }

  async get(key: string, opts?: { signal?: AbortSignal }): Promise<Uint8Array> {
    const path = await this.pathOf(key);
    try {
      const buf = await readFile(path, opts?.signal ? { signal: opts.signal } : undefined);
      // A plain Uint8Array view: Buffer's slice() shares memory, which callers would not expect.
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw this.readError(err, key, 'get');
    }
  }

  async getStream(key: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>> {
    const path = await this.pathOf(key);
    opts?.signal?.throwIfAborted();
    let fh;
    try {
      fh = await open(path, 'r');
      // open(2) succeeds on a directory; only regular files are objects.
      if (!(await fh.stat()).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    } catch (err) {
      await fh?.close().catch(() => undefined);
      throw this.readError(err, key, 'getStream');
    }
    const stream = createReadStream('', { fd: fh, highWaterMark: 1 << 20 });
    return opts?.signal ? addAbortSignal(opts.signal, stream) : stream;
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<PutResult> {
    assertBody(body);
    return this.write(key, body, opts);
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult> {
    assertStreamBody(body);
    return this.write(key, body, opts);
  }

  private async write(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<PutResult> {
    const path = await this.pathOf(key, true);
    const condition = putCondition(opts);
    opts?.signal?.throwIfAborted();
    // Cheap early refusal for create-only puts; the link below is what makes it atomic.
    if (condition.kind === 'absent' && (await this.statFile(path))) throw new PreconditionFailedError(key, `${key} already exists`);
    let temp;
    try {
      temp = await writeTempFile(this.tmpDir, body, opts?.signal);
    } catch (err) {
      throw this.writeError(err, key);
    }
    try {
      await this.publish(key, path, temp.path, condition);
      return { etag: etagOf(temp.stats) };
    } finally {
      await unlink(temp.path).catch(() => undefined); // after link(2) the temp name is a second name; after rename it is gone
    }
  }

  private async publish(key: string, path: string, tempPath: string, condition: PutCondition): Promise<void> {
    const dir = dirname(path);
    const place = condition.kind === 'absent' ? () => link(tempPath, path) : () => rename(tempPath, path);
    try {
      // A concurrent delete may prune the parent directory between mkdir and the rename (ENOENT): redo both.
      for (let attempt = 1; ; attempt++) {
        try {
          await makeParents(dir);
          if (condition.kind === 'absent') {
            await this.replaceEmptyDir(path, place, key);
          } else {
            await this.lock.with(key, async () => {
              if (condition.kind === 'etag') {
                const current = await this.statFile(path);
                if (!current || etagOf(current) !== condition.etag) throw new PreconditionFailedError(key, `${key} does not have etag ${condition.etag}`);
              }
              await this.replaceEmptyDir(path, place, key);
            });
          }
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw err;
        }
      }
      await syncDir(dir).catch(ignoreMissing);
    } catch (err) {
      throw this.writeError(err, key);
    }
  }

  /**
   * Runs a link or rename onto `path`, which fails if `path` is a directory. An empty directory is a
   * leftover of deleted keys below it (a concurrent delete may not have pruned it yet): remove it and retry.
   */
  private async replaceEmptyDir(path: string, op: () => Promise<void>, key: string): Promise<void> {
    try {
      await op();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const isDir = (code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') && (await lstat(path).then((s) => s.isDirectory(), () => false));
      if (code === 'EEXIST' && !isDir) throw new PreconditionFailedError(key, `${key} already exists`);
      if (!isDir) throw err;
      await rmdir(path).catch(() => {
        throw invalidKey(key, 'is a prefix of other keys (the file-system store cannot hold both `a` and `a/b`)');
      });
      await op();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = await this.pathOf(key);
    const s = await this.statFile(path).catch((err) => {
      throw this.readError(err, key, 'head');
    });
    return s && { key, size: Number(s.size), etag: etagOf(s), modifiedAt: Number(s.mtimeMs) };
  }

  /** utimes(2) on the file: one syscall, no data written. A directory (a "prefix" of other keys) is not an object. */
  async touch(key: string): Promise<boolean> {
    const path = await this.pathOf(key);
    try {
      if (!(await this.statFile(path))) return false;
      const now = new Date();
      await utimes(path, now, now);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // deleted between the stat and utimes
      throw this.readError(err, key, 'touch');
    }
  }

  async *list(prefix: string, opts?: { startAfter?: string }): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    const startAfter = opts?.startAfter;
    assertStartAfter(startAfter);
    await this.ready;
    for await (const file of walkSorted(this.root, prefix, startAfter, RESERVED)) {
      const s = await this.statFile(file.path).catch(() => undefined);
      if (s) yield { key: file.key, size: Number(s.size), etag: etagOf(s), modifiedAt: Number(s.mtimeMs) };
    }
  }

  async delete(key: string): Promise<void> {
    const path = await this.pathOf(key);
    try {
      await this.lock.with(key, async () => {
        try {
          await unlink(path);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return; // absent, or a "directory" of other keys
          throw err;
        }
        await syncDir(dirname(path)).catch(ignoreMissing);
      });
    } catch (err) {
      throw this.writeError(err, key);
    }
    await pruneEmptyDirs(this.root, dirname(path));
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('deleteMany: keys must be an array');
    // All keys are checked before any is deleted, so a bad key deletes nothing.
    keys.forEach((k) => this.pathFor(k));
    await mapLimit([...new Set(keys)], this.deleteConcurrency, (k) => this.delete(k));
  }

  async ping(): Promise<void> {
    await this.ready;
    try {
      await access(this.root, constants.R_OK | constants.W_OK);
    } catch (err) {
      throw new BackendUnavailableError(`${this.description} is not readable and writable: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.sweep;
  }

  /** Validates the key, then maps it under the root (validation rules out '..', so it cannot escape). */
  private async pathOf(key: string, forWrite = false): Promise<string> {
    const path = this.pathFor(key);
    if (forWrite) await this.ready;
    return path;
  }

  private pathFor(key: string): string {
    assertObjectKey(key);
    const segments = key.split('/');
    if (RESERVED.has(segments[0] as string)) throw invalidKey(key, `its first segment is reserved by the file-system store`);
    return join(this.root, ...segments);
  }

  private async statFile(path: string) {
    try {
      const s = await lstat(path, { bigint: true });
      return s.isFile() ? s : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  private readError(err: unknown, key: string, op: string): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return new ObjectNotFoundError(key);
    if (err instanceof ArmillariaError || (err as Error).name === 'AbortError') return err as Error;
    return new BackendUnavailableError(`${this.description}: ${op} ${key}: ${(err as Error).message}`, { cause: err });
  }

  private writeError(err: unknown, key: string): Error {
    // Errors thrown by the caller's stream reach the caller unchanged.
    if (err instanceof SourceFailure) return err.original as Error;
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof ArmillariaError || (err as Error).name === 'AbortError') return err as Error;
    if (code === 'ENOTDIR' || code === 'EEXIST') return invalidKey(key, 'has a prefix that is itself an object (the file-system store cannot hold both `a` and `a/b`)');
    return new BackendUnavailableError(`${this.description}: put ${key}: ${(err as Error).message}`, { cause: err });
  }
}

/** A directory pruned by a concurrent delete needs no sync: what we wrote or removed in it is gone with it. */
function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
