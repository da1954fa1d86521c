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

/** Entries newest first with `time < before`, at most `limit`, reading the file backwards in blocks. */
export async function readReflog(path: string, name: string, before: number, limit: number): Promise<ReflogEntry[]> {
  const out: ReflogEntry[] = [];
  if (limit === 0) return out;
  const fh = await openIfExists(path);
  if (!fh) return out;
  try {
    const size = (await fh.stat()).size;
    for await (const line of linesBackwards(fh, size)) {
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

/** Complete lines from the end of the file to its start, decoding each line only once it is whole. */
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
