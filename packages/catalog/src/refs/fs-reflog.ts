import { open, type FileHandle } from 'node:fs/promises';
import { canonicalJson } from '@armillaria/core';
import { fromStoredEntry, type StoredReflogEntry } from './ref-args.js';
import type { ReflogEntry } from './ref-store.js';

/**
 * A ref's reflog on disk: one JSON object per line, appended and fsync'd under the ref's lock, never
 * rewritten. A crash can leave a torn last line; appends start a fresh line after one and readers
 * skip lines that do not parse.
 */

const BLOCK = 64 * 1024;

/** Appends one entry; the caller holds the ref's lock. */
export async function appendReflog(path: string, entry: StoredReflogEntry, tornTail: boolean): Promise<void> {
  const fh = await open(path, 'a');
  try {
    await fh.write(`${tornTail ? '\n' : ''}${canonicalJson(entry)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The newest parseable entry's time and whether the file ends mid-line; reads only the tail. */
export async function reflogTail(path: string): Promise<{ lastTime: number | undefined; tornTail: boolean }> {
  const fh = await openIfExists(path);
  if (!fh) return { lastTime: undefined, tornTail: false };
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return { lastTime: undefined, tornTail: false };
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    const tornTail = last[0] !== 0x0a;
    for await (const line of linesBackwards(fh, size)) {
      const entry = parse('', line);
      if (entry) return { lastTime: entry.time, tornTail };
    }
    return { lastTime: undefined, tornTail };
  } finally {
    await fh.close();
  }
}

/**
 * Entries newest first with `time < before`, at most `limit`, reading the file backwards in blocks from
 * the end, or for a finite `before` from where a binary search over line times puts it.
 */
export async function readReflog(path: string, name: string, before: number, limit: number): Promise<ReflogEntry[]> {
  const out: ReflogEntry[] = [];
  if (limit === 0) return out;
  const fh = await openIfExists(path);
  if (!fh) return out;
  try {
    const size = (await fh.stat()).size;
    const end = before === Infinity ? size : await endBefore(fh, size, before);
    for await (const line of linesBackwards(fh, end)) {
      const entry = parse(name, line);
      if (!entry || entry.time >= before) continue;
      out.push(entry);
      if (out.length >= limit) break;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * A line start (or `size`) such that every line starting at or after it has `time >= before`. Entry times
 * never decrease down the file (the writer clamps them), so this is a binary search over byte offsets,
 * narrowed to one block; the caller's filter handles that block. An unparseable line or one longer than
 * half the remaining range stops the search early: the answer is then only less tight, never wrong.
 */
async function endBefore(fh: FileHandle, size: number, before: number): Promise<number> {
  let lo = 0; // a line start; lines starting before it have time < before
  let hi = size; // a line start or the end; lines starting at or after it have time >= before
  while (hi - lo > BLOCK) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const start = await lineStartFrom(fh, mid, hi);
    if (start === undefined) break;
    const line = await lineAt(fh, start, hi);
    const entry = line && parse('', line.text);
    if (!line || !entry) break;
    if (entry.time < before) lo = line.end;
    else hi = start;
  }
  return hi;
}

/** The first line start at or after `pos` and before `limit`, if any. */
async function lineStartFrom(fh: FileHandle, pos: number, limit: number): Promise<number | undefined> {
  if (pos === 0) return 0;
  const buf = Buffer.alloc(BLOCK);
  for (let at = pos - 1; at < limit; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(BLOCK, limit - at), at);
    if (bytesRead === 0) return undefined;
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl >= 0) return at + nl + 1 < limit ? at + nl + 1 : undefined;
    at += bytesRead;
  }
  return undefined;
}

/** The line starting at `start` and the offset just past its newline; undefined if it does not end before `limit`. */
async function lineAt(fh: FileHandle, start: number, limit: number): Promise<{ text: string; end: number } | undefined> {
  const pieces: Buffer[] = [];
  for (let at = start; at < limit; ) {
    const buf = Buffer.alloc(Math.min(BLOCK, limit - at));
    const { bytesRead } = await fh.read(buf, 0, buf.length, at);
    if (bytesRead === 0) return undefined;
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    if (nl >= 0) {
      pieces.push(buf.subarray(0, nl));
      return { text: Buffer.concat(pieces).toString('utf8'), end: at + nl + 1 };
    }
    pieces.push(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return undefined;
}

/** Complete lines from `size` back to the start of the file, decoding each line only once it is whole. */
async function* linesBackwards(fh: FileHandle, size: number): AsyncGenerator<string> {
  let pos = size;
  let carry: Buffer = Buffer.alloc(0); // the start of a line whose beginning lies in an earlier block
  while (pos > 0) {
    const len = Math.min(BLOCK, pos);
    pos -= len;
    const block = Buffer.alloc(len);
    await fh.read(block, 0, len, pos);
    const buf = carry.length ? Buffer.concat([block, carry]) : block;
    let nl = buf.lastIndexOf(0x0a);
    // Walk the newlines of this buffer from the end; the text before the first one may continue earlier.
    let end = buf.length;
    while (nl >= 0) {
      if (end > nl + 1) yield buf.subarray(nl + 1, end).toString('utf8');
      end = nl;
      nl = nl > 0 ? buf.lastIndexOf(0x0a, nl - 1) : -1;
    }
    carry = buf.subarray(0, end);
  }
  if (carry.length) yield carry.toString('utf8');
}

function parse(name: string, line: string): ReflogEntry | undefined {
  if (!line.trim()) return undefined;
  try {
    return fromStoredEntry(name, JSON.parse(line));
  } catch {
    return undefined;
  }
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
