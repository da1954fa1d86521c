import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { assertPiece } from './put-options.js';

/**
 * The etag of a file: inode, size and mtime in ns (base 36). Cheap (one stat, no read) and different after
 * every put, because each put renames a fresh temp file (a new inode) over the key. Two puts could only share
 * an etag if the file system reused an inode for a file of the same size written in the same nanosecond.
 */
export function etagOf(s: BigIntStats): string {
  return `${s.ino.toString(36)}-${s.size.toString(36)}-${s.mtimeNs.toString(36)}`;
}

/** An error thrown by the caller's stream, carried apart from file-system errors so it reaches the caller unchanged. */
export class SourceFailure extends Error {
  constructor(readonly original: unknown) {
    super('the body stream failed');
  }
}

/**
 * Writes the bytes of a put to a new file in `tmpDir` and syncs it; the caller publishes it under the key.
 * On any failure the temp file is removed; a failure of the body stream comes out as SourceFailure.
 */
export async function writeTempFile(tmpDir: string, body: Uint8Array | AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<{ path: string; stats: BigIntStats }> {
  const path = join(tmpDir, `${process.pid}-${randomBytes(12).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'wx');
    if (body instanceof Uint8Array) {
      await writeAll(fh, body);
    } else {
      const it = body[Symbol.asyncIterator]();
      for (;;) {
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch (err) {
          throw new SourceFailure(err);
        }
        if (r.done) break;
        assertPiece(r.value);
        signal?.throwIfAborted();
        await writeAll(fh, r.value);
      }
    }
    signal?.throwIfAborted();
    await fh.sync();
    const stats = await fh.stat({ bigint: true });
    await fh.close();
    fh = undefined;
    return { path, stats };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.byteLength - at);
    at += bytesWritten;
  }
}

/** Removes empty directories from `dir` up to (not including) `root`; stops at the first non-empty one. */
export async function pruneEmptyDirs(root: string, dir: string): Promise<void> {
  for (let d = dir; d !== root && relative(root, d) !== '' && !relative(root, d).startsWith(`..${sep}`); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return; // not empty (ENOTEMPTY), gone, or in use: leave it
    }
  }
}

/** Deletes files in `dir` (whose name passes `filter`) last modified more than `maxAgeMs` ago; returns how many. */
export async function sweepOldFiles(dir: string, maxAgeMs: number, filter: (name: string) => boolean = () => true): Promise<number> {
  let removed = 0;
  const names = await readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - maxAgeMs;
  for (const name of names) {
    if (!filter(name)) continue;
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (s?.isFile() && s.mtimeMs < cutoff) {
      await unlink(path).then(() => removed++, () => undefined);
    }
  }
  return removed;
}
