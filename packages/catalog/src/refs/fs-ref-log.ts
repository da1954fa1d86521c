import { randomUUID } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, fsync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname } from 'node:path';
import { decodeRecord, encodeRecord, HEADER_BYTES, LOG_FORMAT, LOG_VERSION, payloadAt } from './fs-ref-log-format.js';
import { syncDir as fsyncDir } from '@armillaria/core';

/** Preallocation step: zeros written (and fsync'd) ahead of the records, so appends rewrite existing blocks. */
export const GROW_BYTES = 1 << 20;
const FIRST_READ = 512;
const SCAN_READ = 1 << 16;
const fsyncAsync = promisify(fsync);

/**
 * One open ref log file (format: fs-ref-log-format.ts). Tracks how far it has been read (`end`, the
 * offset just past the last valid record, and that record's crc); `scan` reads the records appended
 * since, which is how a process sees other processes' writes: one small read when nothing changed.
 * `append` is for the holder of the store lock only, after a `scan` under that lock.
 *
 * Reads, writes and the append's fdatasync are synchronous system calls on purpose. Reads and writes
 * hit the page cache and take microseconds, while a trip through libuv's thread pool costs tens of
 * microseconds, and on a loaded machine each of its two thread handoffs can wait milliseconds for a CPU
 * (measured: CAS median 2.4-4 ms at load 12 on 2 cores with an async fdatasync, whose own median was
 * 0.26 ms). The price is that the event loop waits for the flush (about 0.1-0.3 ms on this disk, once
 * per batch of concurrent CASes). Being synchronous, a scan is also atomic with respect to other work
 * of this process. Growing the file (a 1 MiB write and fsync, once per MiB) stays in the thread pool.
 */
export class RefLogFile {
  private end = 0;
  private lastCrc = 0;
  private size = 0;
  private closed = false;
  /**
   * Reused for the small reads (safe: they are synchronous and nothing keeps a view of it). A fresh
   * 4 KiB buffer per call was outside Node's buffer pool: an external allocation on every lookup, and
   * the garbage collections that external memory triggers grew with the heap.
   */
  private readonly scratch = Buffer.allocUnsafe(FIRST_READ);

  private constructor(
    private readonly fd: number,
    /** Which file this is: compaction replaces the log with a new file (a new inode) under the same name. */
    private readonly ino: number,
    private readonly dev: number,
  ) {}

  /** Opens the log at `path`; undefined when it does not exist. */
  static open(path: string): RefLogFile | undefined {
    let fd: number;
    try {
      fd = openSync(path, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const st = fstatSync(fd);
    const log = new RefLogFile(fd, st.ino, st.dev);
    log.size = st.size;
    return log;
  }

  /** Whether `path` still names this file (false once a compaction renamed a new log over it, or it is gone). */
  isCurrentAt(path: string): boolean {
    const st = statSync(path, { throwIfNoEntry: false });
    return st !== undefined && st.ino === this.ino && st.dev === this.dev;
  }

  /** Offset just past the last record read. */
  get endOffset(): number {
    return this.end;
  }

  /** Calls `onRecord` for every valid record after the last one read, in file order; stops at the first invalid one. */
  scan(onRecord: (payload: unknown, offset: number) => void): void {
    let bufStart = this.end;
    let want = FIRST_READ;
    for (;;) {
      const buf = this.read(bufStart, want);
      const eof = buf.length < want;
      let at = 0;
      for (;;) {
        const r = decodeRecord(buf, at, this.lastCrc);
        if (r === undefined) return;
        if (r === 'short') break;
        onRecord(r.payload, bufStart + at);
        at += r.size;
        this.end = bufStart + at;
        this.lastCrc = r.crc;
      }
      if (eof) return; // a record cut off by the end of the file: torn, or being written right now
      bufStart += at;
      const pending = buf.length - at >= 8 ? HEADER_BYTES + buf.readUInt32LE(at + 4) : HEADER_BYTES;
      want = Math.max(SCAN_READ, pending);
    }
  }

  /**
   * Appends records after the last one read, overwriting whatever follows it (zeros, or a torn record),
   * and makes them durable with one fdatasync. Returns each record's offset; the caller indexes them
   * then, so this process never answers from a record before it is durable. On failure the bytes are zeroed again (best effort) and the position moves
   * back, so nobody takes a record whose write was not confirmed.
   */
  async append(payloads: readonly object[]): Promise<number[]> {
    const parts: Buffer[] = [];
    const offsets: number[] = [];
    let crc = this.lastCrc;
    let pos = this.end;
    for (const p of payloads) {
      const rec = encodeRecord(p, crc);
      offsets.push(pos);
      parts.push(rec.bytes);
      pos += rec.bytes.length;
      crc = rec.crc;
    }
    const bytes = Buffer.concat(parts);
    if (pos > this.size) await this.grow(pos);
    const [start, startCrc] = [this.end, this.lastCrc];
    try {
      this.writeAll(bytes, start);
      this.end = pos;
      this.lastCrc = crc;
      fdatasyncSync(this.fd);
    } catch (err) {
      if (!this.closed) {
        try {
          this.writeAll(Buffer.alloc(bytes.length), start);
        } catch {
          // the original error says more
        }
      }
      this.end = start;
      this.lastCrc = startCrc;
      throw err;
    }
    return offsets;
  }

  /** The payload of the (already validated) record at `offset`. */
  readAt(offset: number): unknown {
    let buf = this.read(offset, FIRST_READ);
    const len = HEADER_BYTES + buf.readUInt32LE(4);
    if (buf.length < len) buf = this.read(offset, len);
    return payloadAt(buf);
  }

  /**
   * The payloads of the (already validated) records at ascending `offsets`, read through a 1 MiB window:
   * one read per MiB instead of one per record (compaction reads every record it keeps).
   */
  *readMany(offsets: readonly number[]): Generator<unknown> {
    let win: Buffer = Buffer.alloc(0);
    let winStart = 0;
    for (const at of offsets) {
      let rel = at - winStart;
      if (rel < 0 || rel + HEADER_BYTES > win.length || rel + HEADER_BYTES + win.readUInt32LE(rel + 4) > win.length) {
        win = this.read(at, SCAN_READ * 16); // larger than the scratch buffer: a fresh one, safe to keep
        winStart = at;
        rel = 0;
        const len = HEADER_BYTES + win.readUInt32LE(4);
        if (len > win.length) win = this.read(at, len);
      }
      yield payloadAt(win.subarray(rel));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /**
   * Extends the zero tail to hold `needed` bytes plus a step, fsync'd (the size changes: a journal commit,
   * once per step). Re-reads the size first: another process may have grown the file already, and zeros
   * must never be written over its records.
   */
  private async grow(needed: number): Promise<void> {
    this.size = fstatSync(this.fd).size;
    if (needed <= this.size) return;
    const target = Math.ceil((needed + GROW_BYTES) / GROW_BYTES) * GROW_BYTES;
    this.writeAll(Buffer.alloc(target - this.size), this.size);
    await fsyncAsync(this.fd);
    this.size = target;
  }

  private writeAll(bytes: Buffer, position: number): void {
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, position + done);
  }

  private read(position: number, length: number): Buffer {
    const buf = length <= this.scratch.length ? this.scratch : Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buf, got, length - got, position + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }
}

/**
 * Creates a log at `path` holding the header and `payloads`, whole or not at all: written to a temp file
 * beside it, fsync'd, renamed into place, and the directory fsync'd. The caller holds the store lock and
 * has checked the log is absent (a rename would replace it).
 */
export async function createLogFile(path: string, payloads: Iterable<object>): Promise<void> {
  const tmp = await writeTempLog(path, payloads);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(path));
}

/** Bytes of encoded records gathered before one write to the temp file. */
const WRITE_CHUNK = 1 << 20;

/**
 * Writes a complete log (header, `payloads`, zeros up to the next preallocation step) to a new temp file
 * `<path>.tmp-<pid>-<uuid>` (the name FsRefStore sweeps when its writer died) and fsyncs it. Streams:
 * `payloads` is consumed once, in order, and at most about 1 MiB of encoded records is held at a time.
 * Returns the temp file's path; on failure removes it and throws.
 */
export async function writeTempLog(path: string, payloads: Iterable<object>): Promise<string> {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  try {
    const fh = await open(tmp, 'wx');
    try {
      let crc = 0;
      let used = 0;
      let parts: Buffer[] = [];
      let pending = 0;
      const flush = async (): Promise<void> => {
        const bytes = Buffer.concat(parts);
        parts = [];
        pending = 0;
        for (let done = 0; done < bytes.length; ) done += (await fh.write(bytes, done, bytes.length - done, used + done)).bytesWritten;
        used += bytes.length;
      };
      const add = async (p: object): Promise<void> => {
        const rec = encodeRecord(p, crc);
        crc = rec.crc;
        parts.push(rec.bytes);
        pending += rec.bytes.length;
        if (pending >= WRITE_CHUNK) await flush();
      };
      await add({ format: LOG_FORMAT, version: LOG_VERSION });
      for (const p of payloads) await add(p);
      await flush();
      const size = Math.ceil((used + GROW_BYTES) / GROW_BYTES) * GROW_BYTES;
      for (let at = used; at < size; at += GROW_BYTES) await fh.write(Buffer.alloc(Math.min(GROW_BYTES, size - at)), 0, Math.min(GROW_BYTES, size - at), at);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return tmp;
}
